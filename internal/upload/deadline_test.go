package upload

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/server"
)

// TestSlowTransfers: behind the public server's answer deadline (300 ms here, 30 s in
// production), an upload whose body takes longer still gets its 201, and a download read slowly
// for longer still arrives whole: both are bounded by progress, not by their total time.
func TestSlowTransfers(t *testing.T) {
	e := newEnv(t, envOpt{})
	pub := httptest.NewUnstartedServer(nil)
	pub.Config = server.PublicServer(e.svc, 300*time.Millisecond, 0, slog.New(slog.DiscardHandler))
	pub.Start()
	defer pub.Close()
	addr := strings.TrimPrefix(pub.URL, "http://")

	const size = 4 << 20
	data := body(size)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	target := mustRequestURI(e.v1URL("slow/big.bin", size))
	if _, err := c.Write([]byte("PUT " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	for off := 0; off < size; off += size / 8 {
		time.Sleep(100 * time.Millisecond) // 800 ms in all
		if _, err := c.Write(data[off : off+size/8]); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("slow upload: %v %v", resp, err)
	}

	// A file larger than the loopback socket buffers, read over about a second.
	const large = 24 << 20
	data = body(large)
	if r := e.put(e.v1URL("slow/large.bin", large), data); r.StatusCode != 201 {
		t.Fatalf("setup: %d", r.StatusCode)
	}
	get, err := http.Get(pub.URL + "/upload/slow/large.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer get.Body.Close()
	var got bytes.Buffer
	buf := make([]byte, 1<<20)
	for {
		n, err := get.Body.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("slow download cut after %d bytes: %v", got.Len(), err)
		}
		time.Sleep(40 * time.Millisecond)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("slow download: %d bytes", got.Len())
	}
}
