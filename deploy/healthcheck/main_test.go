package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !ready {
			http.Error(w, "not ready: database", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var errb strings.Builder
	if rc := run(nil, "0.0.0.0:"+port, &errb); rc != 0 {
		t.Fatalf("healthz via ADMIN_ADDR: %d %s", rc, errb.String())
	}
	if rc := run([]string{"-path", "/readyz"}, ":"+port, &errb); rc != 0 {
		t.Fatalf("readyz: %d %s", rc, errb.String())
	}
	ready = false
	errb.Reset()
	if rc := run([]string{"-path", "/readyz"}, "127.0.0.1:"+port, &errb); rc != 1 || !strings.Contains(errb.String(), "503") {
		t.Fatalf("not ready: %d %s", rc, errb.String())
	}
	if rc := run([]string{srv.URL + "/healthz"}, "", &errb); rc != 0 {
		t.Fatalf("explicit URL: %d", rc)
	}
	// nothing listening
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if rc := run([]string{"-timeout", "1s"}, addr, &errb); rc != 1 {
		t.Fatalf("closed port: %d", rc)
	}
	if rc := run([]string{"-bogus"}, "", io.Discard); rc != 2 {
		t.Fatalf("bad flag: %d", rc)
	}
}

func TestLoopback(t *testing.T) {
	for in, want := range map[string]string{"0.0.0.0:9090": "127.0.0.1:9090", ":9091": "127.0.0.1:9091", "[::]:9090": "[::1]:9090",
		"127.0.0.1:9090": "127.0.0.1:9090", "10.0.0.2:9090": "10.0.0.2:9090"} {
		if got := loopback(in); got != want {
			t.Errorf("loopback(%q) = %q, want %q", in, got, want)
		}
	}
}
