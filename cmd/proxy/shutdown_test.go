package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// TestMain lets a test run the real command in a child process (ALIST_EDGE_RUN_PROXY=1), so a
// stop is a real process exit: whatever the service did not flush is gone.
func TestMain(m *testing.M) {
	if os.Getenv("ALIST_EDGE_RUN_PROXY") == "1" {
		os.Exit(run(strings.Fields(os.Getenv("ALIST_EDGE_PROXY_ARGS")), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestGracefulStopRecordsUsage: a download in flight when SIGTERM arrives completes, and the
// bytes it delivered are in the database afterwards (the bandwidth quota, set to exactly the
// file's size, then refuses the subnet's next request).
func TestGracefulStopRecordsUsage(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	const size = 64<<20 + 4096 // not a multiple of the meter's 4 MiB step: the tail is flushed at the end
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	if err := os.WriteFile(filepath.Join(files, "big.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db := filepath.Join(dir, "edge.db")
	envFile := filepath.Join(dir, "proxy.env")
	env := strings.Join([]string{
		"ADDRESS=file://" + files, "SIGN_SECRET=graceful-key", "WORKER_ADDRESS=http://" + addr,
		"LISTEN_ADDR=" + addr, "ADMIN_ADDR=127.0.0.1:0", "SQLITE_PATH=" + db, "SHUTDOWN_TIMEOUT=20s",
		"QUOTA_LIMIT_TOTAL_ENABLED=true", "IPSUBNET_BANDWIDTH_LIMIT=" + strconv.Itoa(size), "BANDWIDTH_WINDOW_TIME_TOTAL=1h", "LOG_LEVEL=error",
	}, "\n")
	if err := os.WriteFile(envFile, []byte(env+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ALIST_EDGE_RUN_PROXY=1", "ALIST_EDGE_PROXY_ARGS=-env-file "+envFile, "ENV_FILE=")
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { _ = cmd.Wait(); done <- cmd.ProcessState.ExitCode() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	kr := sign.NewKeyringFromSecrets("graceful-key")
	now := time.Now().Unix()
	info := &sign.AdditionalInfo{PathHash: sign.PathHash("/big.bin"), FileSize: size, ExpireTime: now + 3600}
	u := sign.DownloadURL("http://"+addr, "/big.bin", kr.BuildParams("/big.bin", "http://"+addr, "127.0.0.1", 0, info))

	var resp *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err = http.Get(u)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not serving: %v %s", err, errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// Read a little, stop the service, then read the rest slowly enough that the stream is
	// still running while the server shuts down.
	got := make([]byte, 0, size)
	buf := make([]byte, 64<<10)
	n, _ := io.ReadFull(resp.Body, buf)
	got = append(got, buf[:n]...)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	select {
	case code := <-done:
		t.Fatalf("the service stopped (exit %d) with a download in flight", code)
	default:
	}
	for {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("download aborted after %d bytes: %v", len(got), err)
		}
	}
	resp.Body.Close()
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes, want %d intact", len(got), size)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("did not stop after SIGTERM")
	}

	// The usage of that stream survived the stop: the subnet has spent its quota exactly.
	store, err := quota.Open(context.Background(), quota.DB{Mode: "sqlite", SQLitePath: db}, quota.Config{
		TotalEnabled: true, TotalLimit: quota.Size{Bytes: size}, TotalWindow: time.Hour, BandwidthBlockTime: time.Minute,
		WindowTime: time.Hour,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	d, err := store.Check(context.Background(), quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: "127.0.0.1/32",
		PathHash: sign.PathHash("/big.bin"), FileSize: size, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Reason != quota.ReasonBandwidth {
		t.Fatalf("usage of the stream was not recorded across the stop: %+v", d)
	}
}
