package upload

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentPUTs: many PUTs of one slot at once, all past their checks (their heads sent,
// the handlers waiting for the bodies) before any body is sent: exactly one 201, the rest 409,
// and the stored bytes are one whole body.
func TestConcurrentPUTs(t *testing.T) {
	e := newEnv(t, envOpt{})
	const n, size = 8, 256 << 10
	p := "race/one.bin"
	target := mustRequestURI(e.v1URL(p, size))
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = rawPUT(t, e, target, size, nil)
		defer conns[i].Close()
	}
	time.Sleep(200 * time.Millisecond) // every handler is now reading its body
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(body(size)); err != nil {
				t.Error(err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("codes %v", codes)
		}
	}
	if created != 1 {
		t.Fatalf("%d PUTs won: %v", created, codes)
	}
	got, err := os.ReadFile(filepath.Join(e.dir, "race", "one.bin"))
	if err != nil || !bytes.Equal(got, body(size)) {
		t.Fatalf("stored file: %v", err)
	}
	assertNoTemp(t, e.dir)
}

// assertNoTemp: no temporary file is left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), tempPrefix) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// rawPUT opens a TCP connection and writes a PUT's head (Content-Length n) and the first part
// of its body.
func rawPUT(t *testing.T, e *env, target string, n int, part []byte, extra ...string) net.Conn {
	t.Helper()
	u, _ := url.Parse(e.srv.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n", target, u.Host, n)
	for _, h := range extra {
		head += h + "\r\n"
	}
	if _, err := c.Write(append([]byte(head+"\r\n"), part...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCutConnection: a client that sends half its body and hangs up leaves no file (no name,
// no temporary), no row, and the slot stays free for a retry.
func TestCutConnection(t *testing.T) {
	e := newEnv(t, envOpt{})
	const size = 1 << 20
	p := "cut/half.bin"
	u, _ := url.Parse(e.v1URL(p, size))
	c := rawPUT(t, e, u.RequestURI(), size, body(size/2))
	defer c.Close()
	time.Sleep(100 * time.Millisecond)
	// While the body is coming, its name is not visible.
	if _, err := os.Stat(filepath.Join(e.dir, "cut", "half.bin")); !os.IsNotExist(err) {
		t.Fatalf("file visible during its upload: %v", err)
	}
	_ = c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for testutilCounter(t, e, "uploads_total", "client_gone") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the cut upload was never settled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "cut", "half.bin")); !os.IsNotExist(err) {
		t.Fatalf("partial file visible: %v", err)
	}
	assertNoTemp(t, e.dir)
	if r, _ := e.get(p); r.StatusCode != 404 {
		t.Fatalf("GET after the cut: %d", r.StatusCode)
	}
	if r := e.put(e.v1URL(p, size), body(size)); r.StatusCode != 201 {
		t.Fatalf("retry: %d", r.StatusCode)
	}
}

// TestExpectContinue: a refused PUT with Expect: 100-continue is answered without "100
// Continue", so the client never sends the body; an accepted one gets 100 and then 201.
func TestExpectContinue(t *testing.T) {
	e := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_MAX_SIZE": "1MB"}})
	for _, tc := range []struct {
		name, target string
		n, want      int
	}{
		{"bad MAC", "/upload/ec/a.bin?v=" + strings.Repeat("ab", 32), 10, 403},
		{"too large", mustRequestURI(e.v1URL("ec/big.bin", 2<<20)), 2 << 20, 413},
		{"accepted", mustRequestURI(e.v1URL("ec/ok.bin", 10)), 10, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawPUT(t, e, tc.target, tc.n, nil, "Expect: 100-continue")
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != 201 {
				if resp.StatusCode != tc.want {
					t.Fatalf("first answer %d, want %d (no 100 Continue before a refusal)", resp.StatusCode, tc.want)
				}
				return
			}
			if resp.StatusCode != 100 {
				t.Fatalf("first answer %d, want 100", resp.StatusCode)
			}
			if _, err := c.Write(body(tc.n)); err != nil {
				t.Fatal(err)
			}
			resp, err = http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("after the body: %v %v", resp, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		})
	}
}

func mustRequestURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u.RequestURI()
}
