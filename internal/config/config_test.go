package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
)

func base() map[string]string {
	return map[string]string{"ADDRESS": "https://alist.example.com", "TOKEN": "t", "WORKER_ADDRESS": "https://dl.example.com/"}
}

func TestProxyDefaults(t *testing.T) {
	c, err := config.LoadProxy(base())
	if err != nil {
		t.Fatal(err)
	}
	if !c.IPv4Only || c.ListenAddr != ":8080" || c.AdminAddr != "127.0.0.1:9090" || c.DBMode != "sqlite" {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Parsed.WorkerAddr != "https://dl.example.com" || c.Parsed.Checks != (struct{ Sign, Hash, Worker, IP, Addition, AdditionExpire bool }{true, true, true, true, true, true}) {
		t.Fatalf("derived: %+v", c.Parsed)
	}
	if c.Parsed.AlistURL != "https://alist.example.com" || c.ShutdownTimeout != 30*time.Second {
		t.Fatalf("derived: %+v", c.Parsed)
	}
}

func TestLandingDefaults(t *testing.T) {
	c, err := config.LoadLanding(map[string]string{"ADDRESS": "file:///srv/files", "SIGN_SECRET": "s", "WORKER_ADDRESS_DOWNLOAD": " https://a , https://b/ ,"})
	if err != nil {
		t.Fatal(err)
	}
	if c.IPv4Only || c.ListenAddr != ":8081" || c.Parsed.LocalRoot != "/srv/files" || len(c.Parsed.Workers) != 2 || c.Parsed.Workers[1] != "https://b" {
		t.Fatalf("%+v", c)
	}
}

// TestThreeMistakes: one message names every bad variable, its value and what is accepted.
func TestThreeMistakes(t *testing.T) {
	env := base()
	env["IP_CHECK"] = "maybe"
	env["WINDOW_TIME"] = "soon"
	env["IPSUBNET_BANDWIDTH_LIMIT"] = "lots"
	_, err := config.LoadProxy(env)
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`IP_CHECK="maybe": not a boolean; accepted: 1, true, yes, on, 0, false, no or off`,
		`WINDOW_TIME="soon": not a duration; accepted:`,
		`IPSUBNET_BANDWIDTH_LIMIT="lots": not a size; accepted:`,
		"3 problem(s)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestSemanticProblemsTogether(t *testing.T) {
	_, err := config.LoadProxy(map[string]string{
		"DB_MODE": "d1", "BLACKLIST_PREFIX": "/x", "BLACKLIST_ACTION": "nope", "PG_ERROR_HANDLE": "maybe",
		"CLIENT_IP_HEADER": "X-Forwarded-For", "IPSUBNET_FILEPATH_BANDWIDTH_LIMIT": "3y",
	})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"ADDRESS is required", "SIGN_SECRET/TOKEN", "WORKER_ADDRESS is required", "DB_MODE=\"d1\"", "BLACKLIST_ACTION",
		"PG_ERROR_HANDLE", "CLIENT_IP_HEADER", "IPSUBNET_FILEPATH_BANDWIDTH_LIMIT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%s", want, err)
		}
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "10m": 10 * time.Minute, "24h": 24 * time.Hour, "1d": 24 * time.Hour,
		"1d12h": 36 * time.Hour, "3600": time.Hour, "1h30m": 90 * time.Minute, "": 0} {
		got, err := config.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("duration %q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"soon", "-5s", "1x", "d"} {
		if _, err := config.ParseDuration(bad); err == nil {
			t.Errorf("duration %q accepted", bad)
		}
	}
	for in, want := range map[string]int64{"500MB": 500 << 20, "1.5TB": 3 << 39, "10gib": 10 << 30, "1024": 1024, "2 k": 2048} {
		got, err := config.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("size %q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"lots", "-1MB", "1.5.5", "5XB"} {
		if _, err := config.ParseSize(bad); err == nil {
			t.Errorf("size %q accepted", bad)
		}
	}
	for in, want := range map[string]bool{"1": true, "YES": true, "on": true, "True": true, "0": false, "off": false, "No": false} {
		got, err := config.ParseBool(in)
		if err != nil || got != want {
			t.Errorf("bool %q: %v %v", in, got, err)
		}
	}
	if l, err := config.ParseFileLimit("2x"); err != nil || l.Multiple != 2 {
		t.Errorf("2x: %+v %v", l, err)
	}
	if l, err := config.ParseFileLimit("500MB"); err != nil || l.Bytes != 500<<20 {
		t.Errorf("500MB: %+v %v", l, err)
	}
}

func FuzzParseEnv(f *testing.F) {
	f.Add("IP_CHECK", "yes")
	f.Add("WINDOW_TIME", "1d2h")
	f.Add("IPSUBNET_BANDWIDTH_LIMIT", "1.5TB")
	f.Fuzz(func(t *testing.T, key, value string) {
		env := base()
		env[key] = value
		c, err := config.LoadProxy(env)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.Contains(err.Error(), "problem") {
			t.Fatalf("unstructured error %v", err)
		}
	})
}

// TestVerifyHeaderPairs: equal lists become pairs; unequal ones are a problem, never a panic.
func TestVerifyHeaderPairs(t *testing.T) {
	base := map[string]string{"ADDRESS": "https://alist.example.com", "TOKEN": "tok-0123456789abcdef0123", "WORKER_ADDRESS": "https://dl.example.com"}
	env := func(h, s string) map[string]string {
		m := map[string]string{"VERIFY_HEADER": h, "VERIFY_SECRET": s}
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	c, err := config.LoadProxy(env("X-A,X-B", "s3cr3t-a-9f8e7d,s3cr3t-b-9f8e7d"))
	if err != nil || len(c.Parsed.VerifyHeaders) != 2 || c.Parsed.VerifyHeaders[1] != [2]string{"X-B", "s3cr3t-b-9f8e7d"} {
		t.Fatalf("pairs: %v %v", c, err)
	}
	if _, err := config.LoadProxy(env("X-A,X-B", "s3cr3t-a-9f8e7d")); err == nil || !strings.Contains(err.Error(), "VERIFY_HEADER/VERIFY_SECRET") {
		t.Fatalf("unequal lists: %v", err)
	}
}
