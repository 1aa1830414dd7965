// Package testutil holds what the test suites share; production code never imports it.
package testutil

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alist-edge/alist-edge/pkg/quota"
)

// SyncBuffer is a log sink that servers' goroutines write while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

// RawGet sends "GET <target>" byte for byte over TCP to addr (host:port) and reads the answer:
// Go's client rewrites a target starting with "//" into the absolute form, and the path tests
// need the exact spelling to arrive. headerLines are extra "Name: value" lines.
func RawGet(addr, target string, headerLines ...string) (status int, header http.Header, body []byte, err error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, nil, nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	head := "GET " + target + " HTTP/1.1\r\nHost: test.invalid\r\n"
	for _, l := range headerLines {
		head += l + "\r\n"
	}
	if _, err := io.WriteString(c, head+"Connection: close\r\n\r\n"); err != nil {
		return 0, nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// Meters sums what every quota.Meter it tracks has counted (Meter.Total): the bytes a proxy
// delivered through its meters, for tests that compare usage with what the client received.
type Meters struct {
	mu sync.Mutex
	ms []*quota.Meter
}

// Track adds m to the sum and returns it.
func (s *Meters) Track(m *quota.Meter) *quota.Meter {
	s.mu.Lock()
	s.ms = append(s.ms, m)
	s.mu.Unlock()
	return m
}

// Load is the bytes counted so far by every tracked meter.
func (s *Meters) Load() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, m := range s.ms {
		n += m.Total()
	}
	return n
}
