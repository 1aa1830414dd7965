package proxy

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	smuggleHost = "Host: example.com\r\n"
	// smuggled is appended to every attempt: if it reaches the handler, a request was read
	// behind one that should have ended the connection.
	smuggled = "GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\n"
)

// smuggleCases are the request-smuggling shapes the proxy's former HTTP server refused itself
// (internal/h1srv, removed in December 2026), kept as black-box cases: whichever server parses
// them, and whether it or the proxy refuses the first request, the request behind it is never
// served.
var smuggleCases = []struct{ name, raw string }{
	{"CL+TE", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE+CL", "POST / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
	{"TE chunked alone", "POST / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE chunked on GET", "GET / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE lowercase name", "POST / HTTP/1.1\r\n" + smuggleHost + "transfer-encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE identity", "POST / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello"},
	{"TE empty", "POST / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding:\r\nContent-Length: 5\r\n\r\nhello"},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE space before colon", "POST / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
	{"TE tab before colon", "POST / HTTP/1.1\r\n" + smuggleHost + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"},
	{"duplicate CL same value", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{"duplicate CL different values", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 5\r\nContent-Length: 41\r\n\r\nhello"},
	{"CL on GET", "GET / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 5\r\n\r\nhello"},
	{"CL list", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 5, 5\r\n\r\nhello"},
	{"CL plus sign", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: +5\r\n\r\nhello"},
	{"CL minus sign", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: -5\r\n\r\nhello"},
	{"CL inner space", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 5 5\r\n\r\nhello"},
	{"CL hex", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 0x5\r\n\r\nhello"},
	{"CL underscore", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: 1_0\r\n\r\nhello"},
	{"CL empty", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length:\r\n\r\nhello"},
	{"CL 19 digits", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length: " + strings.Repeat("9", 19) + "\r\n\r\nhello"},
	{"CL space before colon", "POST / HTTP/1.1\r\n" + smuggleHost + "Content-Length : 5\r\n\r\nhello"},
	{"bare LF line ends", "GET / HTTP/1.1\nHost: example.com\n\n"},
	{"bare LF after request line", "GET / HTTP/1.1\n" + smuggleHost + "\r\n"},
	{"bare LF in one header line", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A: 1\nContent-Length: 5\r\n\r\nhello"},
	{"bare LF ending the head", "GET / HTTP/1.1\r\n" + smuggleHost + "\n"},
	{"bare CR in a header value", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A: 1\rContent-Length: 5\r\n\r\nhello"},
	{"bare CR in a header name", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A\r: 1\r\n\r\n"},
	{"bare CR before CRLF", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A: 1\r\r\n\r\n"},
	{"bare CR line", "GET / HTTP/1.1\r\n" + smuggleHost + "\r\r\n\r\n"},
	{"bare CR in the request line", "GET /\r HTTP/1.1\r\n" + smuggleHost + "\r\n"},
	{"bare CR after the version", "GET / HTTP/1.1\r\r\n" + smuggleHost + "\r\n"},
	{"obs-fold", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A: 1\r\n Content-Length: 5\r\n\r\nhello"},
	{"obs-fold tab", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A: 1\r\n\tmore\r\n\r\n"},
	{"obs-fold first header line", "GET / HTTP/1.1\r\n " + smuggleHost + "\r\n"},
	{"space before colon", "GET / HTTP/1.1\r\nHost : example.com\r\n\r\n"},
	{"NUL in the request line", "GET /a\x00b HTTP/1.1\r\n" + smuggleHost + "\r\n"},
	{"NUL in the method", "GE\x00T / HTTP/1.1\r\n" + smuggleHost + "\r\n"},
	{"NUL in a header value", "GET / HTTP/1.1\r\n" + smuggleHost + "X-A: a\x00b\r\n\r\n"},
	{"NUL in a header name", "GET / HTTP/1.1\r\n" + smuggleHost + "X-\x00A: a\r\n\r\n"},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n"},
	{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
	{"Expect other than 100-continue", "POST / HTTP/1.1\r\n" + smuggleHost + "Expect: 200-ok\r\nContent-Length: 5\r\n\r\nhello"},
}

// TestSmugglingNeverServed sends every shape with a second request behind it, to the proxy
// behind its production server: the first request is refused (by net/http or by the proxy),
// the connection ends, and the second request never reaches the handler.
func TestSmugglingNeverServed(t *testing.T) {
	e := newEnv(t, envOpts{local: true})
	var mu sync.Mutex
	var seen []string
	srv := startPublic(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		e.h.ServeHTTP(w, r)
	}), nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, c := range smuggleCases {
		mu.Lock()
		seen = seen[:0]
		mu.Unlock()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, c.raw+smuggled); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		answer, err := io.ReadAll(conn) // until the server closes the connection
		conn.Close()
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection stayed open after the refusal", c.name)
		}
		status := ""
		if f := strings.Fields(string(answer)); len(f) > 1 {
			status = f[1]
		}
		mu.Lock()
		got := append([]string(nil), seen...)
		mu.Unlock()
		for _, p := range got {
			if p == "/smuggled" {
				t.Errorf("%s: the request behind it was served (first answer %s; handler saw %v)", c.name, status, got)
			}
		}
		if status == "" || status[0] == '2' {
			t.Errorf("%s: first request answered %q, want a refusal", c.name, status)
		}
	}
}
