package hostile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/alist-edge/alist-edge/pkg/quota"
)

// The SQLite faults run in a child process (this test binary re-executed with
// HOSTILE_CHILD set): a file-size limit (RLIMIT_FSIZE) stands in for a full disk, since a
// small tmpfs cannot be mounted here; Go ignores SIGXFSZ, so writes past the limit fail with
// EFBIG exactly where ENOSPC would. The read-only case drops root (chmod does not stop root).

const childEnv = "HOSTILE_CHILD"

func runChild(t *testing.T, name string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, childEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", name, err, out)
	}
	return string(out)
}

func integrityCheck(t testing.TB, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
}

func sqliteCfg() quota.Config {
	return quota.Config{WindowTime: time.Minute, RequestLimit: 1000, CheckTimeout: 2 * time.Second}
}

// TestFaultSQLiteDiskFull: with the disk "full", checks fail with a clear error (the proxy
// answers 500 "database unavailable" fail-closed, serves fail-open); when space returns the
// same process recovers without a restart, and PRAGMA integrity_check is "ok".
func TestFaultSQLiteDiskFull(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.db")
	out := runChild(t, "TestChildSQLiteDiskFull", "HOSTILE_DB="+path)
	for _, want := range []string{"FULL-ERROR", "RECOVERED"} {
		if !strings.Contains(out, want) {
			t.Fatalf("child did not report %s:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "FULL-ERROR") || strings.Contains(l, "RECOVERED") || strings.Contains(l, "PROXY") {
			t.Log(strings.TrimSpace(l))
		}
	}
	integrityCheck(t, path)
}

func TestChildSQLiteDiskFull(t *testing.T) {
	if os.Getenv(childEnv) != "TestChildSQLiteDiskFull" {
		t.Skip("runs as a child of TestFaultSQLiteDiskFull")
	}
	path := os.Getenv("HOSTILE_DB")
	ctx := context.Background()
	st, err := quota.Open(ctx, quota.DB{Mode: quota.ModeSQLite, SQLitePath: path}, sqliteCfg(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(testNow, 0)
	check := func(i int) error {
		_, err := st.Check(ctx, quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: fmt.Sprintf("10.%d.%d.%d/32", i>>16&255, i>>8&255, i&255),
			PathHash: "p", Now: now})
		return err
	}
	for i := range 200 {
		if err := check(i); err != nil {
			t.Fatal(err)
		}
	}
	s := newProxyOnStore(t, st) // before the limit: it creates files of its own
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	var biggest int64
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(f); err == nil && fi.Size() > biggest {
			biggest = fi.Size()
		}
	}
	// "Disk full": no file may grow past its current size (+ one page of slack).
	limit := uint64(biggest + 4096)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	var fullErr error
	i := 200
	for ; i < 200000 && fullErr == nil; i++ {
		fullErr = check(i)
	}
	if fullErr == nil {
		t.Fatal("no error with the file-size limit in place")
	}
	if !errors.Is(fullErr, quota.ErrUnavailable) {
		t.Fatalf("error does not wrap ErrUnavailable: %v", fullErr)
	}
	fmt.Printf("FULL-ERROR after %d inserts (limit %d bytes): %v\n", i-200, limit, fullErr)
	// The error is not transient noise: a few more attempts fail the same way, quickly.
	for j := range 3 {
		start := time.Now()
		if err := check(i + j); err == nil || time.Since(start) > 3*time.Second {
			t.Fatalf("while full: %v after %v", err, time.Since(start))
		}
	}
	// Through the proxy, fail-closed: 500 "database unavailable".
	a := s.get(t, "/f.txt")
	fmt.Printf("PROXY while full: %d %s\n", a.status, a.body)
	wantJSON(t, a, 500, "database unavailable")
	// Space returns.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check(i + 10)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after space returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for j := range 100 {
		if err := check(i + 20 + j); err != nil {
			t.Fatal(err)
		}
	}
	a = s.get(t, "/f.txt")
	if a.status != 200 {
		t.Fatalf("proxy after recovery: %d %q", a.status, a.body)
	}
	fmt.Printf("RECOVERED: checks and the proxy work again (%d %q)\n", a.status, a.body)
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// newProxyOnStore starts a proxy (fake AList) on an already open store.
func newProxyOnStore(t *testing.T, st quota.Store) *svc {
	s := newProxy(t, "proxy", false, nil)
	s.store.Store = st
	s.put(t, "/f.txt", []byte("ok"))
	return s
}

// TestFaultSQLiteReadOnly: a database file (and folder) that became read-only is a clear
// startup error; a database that turns read-only mid-run answers 500 fail-closed; after
// permissions return, it opens, works, and PRAGMA integrity_check is "ok".
func TestFaultSQLiteReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.db")
	st, err := quota.Open(context.Background(), quota.DB{Mode: quota.ModeSQLite, SQLitePath: path}, sqliteCfg(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Check(context.Background(), quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: "10.0.0.1/32", PathHash: "p", Now: time.Unix(testNow, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	for _, f := range []string{dir, path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			if err := os.Chown(f, nobody, nobody); err != nil && os.Getuid() == 0 {
				t.Fatal(err)
			}
		}
	}
	setMode := func(dirMode, fileMode os.FileMode) {
		_ = os.Chmod(dir, dirMode)
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			_ = os.Chmod(f, fileMode)
		}
	}
	_ = os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is 0700: let nobody reach dir
	setMode(0o555, 0o444)
	out := runChild(t, "TestChildSQLiteReadOnly", "HOSTILE_DB="+path)
	setMode(0o755, 0o644)
	if !strings.Contains(out, "READONLY-ERROR") {
		t.Fatalf("child did not report the error:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "READONLY") {
			t.Log(strings.TrimSpace(l))
		}
	}
	integrityCheck(t, path)
	st, err = quota.Open(context.Background(), quota.DB{Mode: quota.ModeSQLite, SQLitePath: path}, sqliteCfg(), nil)
	if err != nil {
		t.Fatalf("open after permissions returned: %v", err)
	}
	if _, err := st.Check(context.Background(), quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: "10.0.0.2/32", PathHash: "p", Now: time.Unix(testNow, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	integrityCheck(t, path)
}

func TestChildSQLiteReadOnly(t *testing.T) {
	if os.Getenv(childEnv) != "TestChildSQLiteReadOnly" {
		t.Skip("runs as a child of TestFaultSQLiteReadOnly")
	}
	if os.Getuid() == 0 {
		// Permissions do not bind root: become nobody (applies to every thread on Linux).
		if err := syscall.Setgid(65534); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Fatal(err)
		}
	}
	path := os.Getenv("HOSTILE_DB")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	st, err := quota.Open(ctx, quota.DB{Mode: quota.ModeSQLite, SQLitePath: path}, sqliteCfg(), nil)
	if err == nil {
		// Opened (read-only files can be opened for reading): the first write must fail clearly.
		_, err = st.Check(ctx, quota.CheckRequest{Scope: quota.ScopeProxy, Subnet: "10.0.0.9/32", PathHash: "p", Now: time.Unix(testNow, 0)})
		_ = st.Close(context.Background())
		if err == nil {
			t.Fatal("a check on a read-only database succeeded")
		}
	}
	fmt.Printf("READONLY-ERROR after %v (uid %s): %v\n", time.Since(start).Round(time.Millisecond), strconv.Itoa(os.Getuid()), err)
}
