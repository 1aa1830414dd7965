package quota

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// oldPing is what /readyz checked before: the database answers.
func oldPing(ctx context.Context, s *store) error {
	switch be := inner(s).(type) {
	case *sqliteBackend:
		return be.db.PingContext(ctx)
	case *pgBackend:
		return be.pool.with(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) })
	}
	return nil
}

// TestPingFailsWhileChecksFail (issue #13 item 4): a database that answers pings but cannot run
// the check (here a table the check needs is gone) is not ready.
func TestPingFailsWhileChecksFail(t *testing.T) {
	eachBackend(t, func(t *testing.T, bc backendCase) {
		ctx := context.Background()
		clk := newClock()
		db := bc.fresh(t)
		s := openStore(t, db, Config{WindowTime: time.Minute, RequestLimit: 100, Clock: clk.Now, CheckTimeout: 5 * time.Second})
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping on a healthy store: %v", err)
		}
		check(t, s, clk, CheckRequest{Subnet: subnet})
		switch be := inner(s).(type) {
		case *sqliteBackend:
			if _, err := be.db.ExecContext(ctx, `DROP TABLE rate_windows`); err != nil {
				t.Fatal(err)
			}
		default:
			rawExec(t, db, `DROP TABLE rate_windows CASCADE`)
		}
		if _, err := s.Check(ctx, CheckRequest{Scope: ScopeProxy, Subnet: subnet, Now: clk.Now()}); err == nil {
			t.Fatal("check succeeded without its table")
		}
		if err := oldPing(ctx, s); err != nil {
			t.Fatalf("the database should still answer a ping: %v", err)
		}
		err := s.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "last check failed") {
			t.Fatalf("Ping while checks fail: %v, want not ready", err)
		}
		// Not ready for readyAfterFailure only: a store that gets no traffic is probed again.
		s.health.mu.Lock()
		s.health.lastFail = time.Now().Add(-readyAfterFailure)
		s.health.mu.Unlock()
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping after the failure aged out: %v", err)
		}
	})
}

// TestPingSQLiteDiskFull: with the disk full, checks fail with 500 while the old ping still
// answered; the new Ping fails (its write cannot commit, and checks failed) and recovers when
// space returns. RLIMIT_FSIZE stands in for the full disk (no tmpfs can be mounted here), in a
// child process because the limit applies to the whole process.
func TestPingSQLiteDiskFull(t *testing.T) {
	if os.Getenv("QUOTA_DISKFULL_CHILD") != "" {
		diskFullChild(t, os.Getenv("QUOTA_DISKFULL_CHILD"))
		return
	}
	path := filepath.Join(t.TempDir(), "q.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestPingSQLiteDiskFull$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "QUOTA_DISKFULL_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"FULL: old ping ok", "FULL: Ping fails", "FULL: probe fails", "RECOVERED"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("child did not report %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "FULL") || strings.HasPrefix(l, "RECOVERED") {
			t.Log(l)
		}
	}
}

func diskFullChild(t *testing.T, path string) {
	ctx := context.Background()
	s := openStore(t, DB{Mode: ModeSQLite, SQLitePath: path}, Config{WindowTime: time.Hour, RequestLimit: 1 << 30, CheckTimeout: 2 * time.Second})
	now := time.Now()
	checkN := func(i int) error {
		_, err := s.Check(ctx, CheckRequest{Scope: ScopeProxy, Subnet: fmt.Sprintf("10.%d.%d.%d/32", i>>16&255, i>>8&255, i&255), Now: now})
		return err
	}
	for i := range 100 {
		if err := checkN(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping before: %v", err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	var biggest int64
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(f); err == nil {
			biggest = max(biggest, fi.Size())
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(biggest + 4096), Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	i := 100
	var full error
	for ; i < 1_000_000 && full == nil; i++ {
		full = checkN(i)
	}
	if full == nil {
		t.Fatal("no check failed under the file-size limit")
	}
	if err := oldPing(ctx, s); err != nil {
		t.Fatalf("old ping while full: %v", err)
	}
	fmt.Printf("FULL: old ping ok while checks fail (%v)\n", full)
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping says ready while the disk is full")
	} else {
		fmt.Printf("FULL: Ping fails: %v\n", err)
	}
	if err := s.be.ping(ctx, now.UnixMilli()); err == nil {
		t.Fatal("the readiness write committed on a full disk")
	} else {
		fmt.Printf("FULL: probe fails: %v\n", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for checkN(i+1) != nil {
		if time.Now().After(deadline) {
			t.Fatal("checks did not recover")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after space returned: %v", err)
	}
	fmt.Println("RECOVERED: checks and Ping work again")
}

// TestPingPostgresReadOnly: a Postgres database that turned read-only answers pings and every
// check fails; Ping's write fails too.
func TestPingPostgresReadOnly(t *testing.T) {
	var bc backendCase
	for _, b := range backends {
		if b.name == "postgres" {
			bc = b
		}
	}
	ctx := context.Background()
	db := bc.fresh(t)
	clk := newClock()
	s := openStore(t, db, Config{WindowTime: time.Minute, RequestLimit: 100, Clock: clk.Now})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on a healthy store: %v", err)
	}
	u, err := url.Parse(db.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := func(stmts ...string) {
		t.Helper()
		c, err := pgx.Connect(ctx, os.Getenv("TEST_DATABASE_URL"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, q := range stmts {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	kick := `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `' AND pid <> pg_backend_pid()`
	admin(`ALTER DATABASE `+name+` SET default_transaction_read_only = on`, kick)
	// The pool notices its terminated connections on first use.
	retry := func(f func() error) error {
		var err error
		for range 5 {
			if err = f(); err == nil || !strings.Contains(err.Error(), "terminat") && !strings.Contains(err.Error(), "closed") {
				return err
			}
		}
		return err
	}
	if err := retry(func() error { return oldPing(ctx, s) }); err != nil {
		t.Fatalf("old ping on a read-only database: %v", err)
	}
	if err := retry(func() error { return s.Ping(ctx) }); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Ping on a read-only database: %v, want a read-only failure", err)
	}
	if _, err := s.Check(ctx, CheckRequest{Scope: ScopeProxy, Subnet: subnet, Now: clk.Now()}); err == nil {
		t.Fatal("check succeeded on a read-only database")
	}
	admin(`ALTER DATABASE `+name+` RESET default_transaction_read_only`, kick)
	if err := retry(func() error {
		_, err := s.Check(ctx, CheckRequest{Scope: ScopeProxy, Subnet: subnet, Now: clk.Now()})
		return err
	}); err != nil {
		t.Fatalf("check after read-write returned: %v", err)
	}
	if err := retry(func() error { return s.Ping(ctx) }); err != nil {
		t.Fatalf("Ping after read-write returned: %v", err)
	}
}
