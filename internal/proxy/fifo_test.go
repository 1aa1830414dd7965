package proxy

import (
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLocalFIFOAnswers404: a named pipe in the served folder answers 404 object not found at
// once, for many requests in parallel, and the proxy keeps serving. Before, each request
// parked a thread in open(2) until a writer appeared; ~10k of them exhausted threads and
// descriptors. The test is bounded: on a hang it releases the blocked opens and fails.
func TestLocalFIFOAnswers404(t *testing.T) {
	e := newEnv(t, envOpts{local: true})
	pipe := filepath.Join(e.local, "pipe.bin")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	e.put("/ok.txt", []byte("ok"))
	const n = 50
	target := e.srv.URL + e.uri("/pipe.bin", testIP)
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			req.Header.Set("CF-Connecting-IP", testIP)
			resp, err := e.client.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		for range 100 { // let the parked opens return so the test binary can finish
			if fd, err := syscall.Open(pipe, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				time.Sleep(5 * time.Millisecond)
				syscall.Close(fd)
			}
			time.Sleep(5 * time.Millisecond)
		}
		<-done
		t.Fatalf("%d requests for a FIFO did not finish in 10s: the open blocked", n)
	}
	close(statuses)
	for s := range statuses {
		if s != http.StatusNotFound {
			t.Fatalf("status %d, want 404", s)
		}
	}
	t.Logf("%d parallel requests for a FIFO answered 404 in %v", n, time.Since(start))
	if r := e.get(e.uri("/pipe.bin", testIP)); r.status != 404 {
		t.Fatalf("%d %q", r.status, r.body)
	} else {
		wantJSONError(t, r, 404, "object not found")
	}
	if r := e.get(e.uri("/ok.txt", testIP)); r.status != 200 || string(r.body) != "ok" {
		t.Fatalf("after the FIFO: %d %q", r.status, r.body)
	}
}
