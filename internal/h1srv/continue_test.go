package h1srv

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNoContinueAfterFinalStatus: a handler that chooses its final status before reading an
// "Expect: 100-continue" body must not make the server send "100 Continue" (the client would
// read it as the answer's start), as net/http. The client here sends the body anyway.
func TestNoContinueAfterFinalStatus(t *testing.T) {
	for _, k := range lcKinds {
		t.Run(k.name, func(t *testing.T) {
			got := make(chan string, 1)
			s := k.start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				b, _ := io.ReadAll(r.Body)
				got <- string(b)
			}))
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			req := "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first answer %d, want 202 (no 100 Continue after the final status)", resp.StatusCode)
			}
			if b := <-got; !strings.EqualFold(b, "hello") {
				t.Fatalf("handler read %q", b)
			}
		})
	}
}
