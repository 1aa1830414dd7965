package tcpacct

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// pair is a loopback connection: srv accepted through Listener (as the proxy's public listener
// is), cli dialled with a 64 KiB receive buffer so little sits unread on the client side.
func pair(t *testing.T, wrap bool) (srv net.Conn, cli *net.TCPConn) {
	t.Helper()
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if wrap {
		ln = Listener(ln)
	}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c.(*net.TCPConn)
}

func counters(t *testing.T, c net.Conn) *Conn {
	t.Helper()
	conn := FromContext(ConnContext(context.Background(), c))
	if conn == nil {
		t.Fatalf("no counters for %T", c)
	}
	return conn
}

// writeAll writes n bytes on c in the background; the result arrives on the channel.
func writeAll(c net.Conn, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, n))
		done <- err
	}()
	return done
}

// TestSampleCountsAcknowledged: while a slow client holds back, Sent counts what the kernel
// took and Acked only what the client's stack acknowledged; once it read everything they meet.
func TestSampleCountsAcknowledged(t *testing.T) {
	srv, cli := pair(t, true)
	conn := counters(t, srv)
	base, err := conn.Sample()
	if err != nil {
		t.Fatal(err)
	}
	const total, read = 16 << 20, 2 << 20
	done := writeAll(srv, total)
	if _, err := io.CopyN(io.Discard, cli, read); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the writer fills whatever buffers there are
	s, err := conn.Sample()
	if err != nil {
		t.Fatal(err)
	}
	acked, sent := s.Acked-base.Acked, s.Sent-base.Sent
	t.Logf("read %d: acked %d, sent %d", read, acked, sent)
	if acked < read-(128<<10) || acked > read+(256<<10) {
		t.Fatalf("acked %d for %d read by the client", acked, read)
	}
	if sent < acked+(256<<10) {
		t.Fatalf("sent %d: the send queue (%d) should hold far more than the client's window", sent, sent-acked)
	}
	if _, err := io.CopyN(io.Discard, cli, total-read); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := conn.Sample()
		if err != nil {
			t.Fatal(err)
		}
		if s.Sent-base.Sent == total && s.Acked == s.Sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the whole read: sent %d, acked %d, want both %d", s.Sent-base.Sent, s.Acked-base.Acked, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReadingAfterClose: net/http closes a connection as soon as a write to it fails; a
// connection accepted by Listener still answers with the reading taken as it closed (what the
// client acknowledged before it reset), one accepted without it fails.
func TestReadingAfterClose(t *testing.T) {
	for _, wrap := range []bool{true, false} {
		t.Run(map[bool]string{true: "Listener", false: "bare"}[wrap], func(t *testing.T) {
			srv, cli := pair(t, wrap)
			conn := counters(t, srv)
			base, _ := conn.Sample()
			done := writeAll(srv, 16<<20)
			if _, err := io.CopyN(io.Discard, cli, 1<<20); err != nil {
				t.Fatal(err)
			}
			_ = cli.SetLinger(0)
			_ = cli.Close()
			if err := <-done; err == nil {
				t.Fatal("write to a reset connection succeeded")
			}
			_ = srv.Close()
			s, err := conn.Sample()
			if !wrap {
				if err == nil {
					t.Fatal("reading a closed bare connection succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a := s.Acked - base.Acked; a < 1<<20-(128<<10) || a > 1<<20+(256<<10) {
				t.Fatalf("acked %d at close for 1 MiB read", a)
			}
		})
	}
}

// TestFromContext: counters for TCP and for TLS with HTTP/1.1, none for HTTP/2 (its streams
// share the connection), a unix socket or a server without the hook.
func TestFromContext(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch c := FromContext(r.Context()); {
		case c == nil:
			_, _ = io.WriteString(w, "none")
		case c.TLS:
			_, _ = io.WriteString(w, "tls")
		default:
			_, _ = io.WriteString(w, "tcp")
		}
	})
	start := func(t *testing.T, hook bool, ln net.Listener, tlsMode string) *httptest.Server {
		s := httptest.NewUnstartedServer(handler)
		if hook {
			s.Config.ConnContext = ConnContext
		}
		if ln != nil {
			_ = s.Listener.Close()
			s.Listener = ln
		}
		s.Listener = Listener(s.Listener)
		switch tlsMode {
		case "":
			s.Start()
		default:
			s.EnableHTTP2 = true
			s.StartTLS()
		}
		t.Cleanup(s.Close)
		return s
	}
	get := func(t *testing.T, c *http.Client, url string) string {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Proto + " " + string(b)
	}
	t.Run("tcp", func(t *testing.T) {
		s := start(t, true, nil, "")
		if got := get(t, s.Client(), s.URL); got != "HTTP/1.1 tcp" {
			t.Fatal(got)
		}
	})
	t.Run("no hook", func(t *testing.T) {
		s := start(t, false, nil, "")
		if got := get(t, s.Client(), s.URL); got != "HTTP/1.1 none" {
			t.Fatal(got)
		}
	})
	t.Run("tls http/1.1", func(t *testing.T) {
		s := start(t, true, nil, "tls")
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		if got := get(t, c, s.URL); got != "HTTP/1.1 tls" {
			t.Fatal(got)
		}
	})
	t.Run("tls h2", func(t *testing.T) {
		s := start(t, true, nil, "tls")
		if got := get(t, s.Client(), s.URL); got != "HTTP/2.0 none" {
			t.Fatal(got)
		}
	})
	t.Run("unix", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "s")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		start(t, true, ln, "")
		c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
		if got := get(t, c, "http://unix/"); got != "HTTP/1.1 none" {
			t.Fatal(got)
		}
	})
}

// TestListenerKeepsSendfile: the wrapped connection still offers ReadFrom (net/http's sendfile
// and splice path) and CloseWrite.
func TestListenerKeepsSendfile(t *testing.T) {
	srv, _ := pair(t, true)
	if _, ok := srv.(io.ReaderFrom); !ok {
		t.Fatal("no ReadFrom")
	}
	if _, ok := srv.(interface{ CloseWrite() error }); !ok {
		t.Fatal("no CloseWrite")
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.8.0-45-generic", true},
		{"4.1.0", true},
		{"4.19.0-26-amd64", true},
		{"4.0.9", false},
		{"3.10.0-1160.el7.x86_64", false},
		{"5", false},
		{"x.y", false},
		{"4.1-rc1", true},
	} {
		if got := kernelAtLeast(tc.release, 4, 1); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.release, got, tc.want)
		}
	}
}
