// Package testutil holds what the test suites share; production code never imports it.
package testutil

import (
	"bytes"
	"sync"

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
