// Package testpg gives each test its own throwaway Postgres database on the server named by
// TEST_DATABASE_URL (see scripts/pgtest.sh), so tests can run in parallel and never see each
// other's rows.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Required reports whether a missing TEST_DATABASE_URL must fail instead of skip: in CI the
// Postgres tests are the only proof the production backend works, so they may never be skipped.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("ALIST_EDGE_REQUIRE_PG") == "1"
}

// URL creates a fresh database for t and returns its URL; the database is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if Required() {
			t.Fatal("TEST_DATABASE_URL is not set; Postgres tests must run in CI (start a server with scripts/pgtest.sh)")
		}
		t.Skip("TEST_DATABASE_URL not set; run `make test` to run the Postgres tests")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])

	admin(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("testpg: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testpg: drop %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testpg: TEST_DATABASE_URL is not a URL")
	}
	u.Path = "/" + name
	return u.String()
}

// Disconnect makes the database of dbURL unreachable, the way an outage looks to a client: new
// connections are refused and every open connection is terminated. Reconnect undoes it.
func Disconnect(t testing.TB, dbURL string) {
	t.Helper()
	name := dbName(t, dbURL)
	admin(t, os.Getenv("TEST_DATABASE_URL"),
		"ALTER DATABASE "+name+" ALLOW_CONNECTIONS false",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"' AND pid <> pg_backend_pid()")
}

// Reconnect lets clients connect to the database of dbURL again.
func Reconnect(t testing.TB, dbURL string) {
	t.Helper()
	admin(t, os.Getenv("TEST_DATABASE_URL"), "ALTER DATABASE "+dbName(t, dbURL)+" ALLOW_CONNECTIONS true")
}

func dbName(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testpg: bad database URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, "t_") || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z')
	}) {
		t.Fatalf("testpg: %q is not a database made by testpg.URL", name)
	}
	return name
}

func admin(t testing.TB, base string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testpg: connect to TEST_DATABASE_URL: %v", err)
	}
	defer c.Close(ctx)
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("testpg: %s: %v", s, err)
		}
	}
}
