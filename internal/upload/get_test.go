package upload

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGet: the headers of every answer, inline for the safe types and attachment for the rest,
// Range, ETag/If-None-Match, HEAD; files without a row are not served.
func TestGet(t *testing.T) {
	e := newEnv(t, envOpt{})
	data := body(1000)
	for p, ct := range map[string]string{"g/pic.png": "image/png", "g/page.html": "text/html", "g/notes.txt": "text/plain; charset=utf-8",
		"g/clip.mp4": "video/mp4", "g/song.mp3": "audio/mpeg", "g/img.svg": "image/svg+xml", "g/prog.js": "application/javascript", "g/none.bin": ""} {
		if r := e.put(e.v2URL("v2", p, len(data), ct), data, "Content-Type", ct); r.StatusCode != 201 {
			t.Fatalf("%s: %d", p, r.StatusCode)
		}
	}
	for _, tc := range []struct {
		path, ct, disp string
	}{
		{"g/pic.png", "image/png", `inline; filename=pic.png`},
		{"g/clip.mp4", "video/mp4", `inline; filename=clip.mp4`},
		{"g/song.mp3", "audio/mpeg", `inline; filename=song.mp3`},
		{"g/notes.txt", "text/plain; charset=utf-8", `inline; filename=notes.txt`},
		{"g/img.svg", "image/svg+xml", `inline; filename=img.svg`},
		{"g/page.html", "text/html", `attachment; filename=page.html`},
		{"g/prog.js", "application/javascript", `attachment; filename=prog.js`},
		{"g/none.bin", "application/octet-stream", `attachment; filename=none.bin`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r, got := e.get(tc.path, "Origin", "https://chat.example")
			h := r.Header
			if r.StatusCode != 200 || !bytes.Equal(got, data) {
				t.Fatalf("%d, %d bytes", r.StatusCode, len(got))
			}
			for k, want := range map[string]string{"Content-Type": tc.ct, "Content-Disposition": tc.disp,
				"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
				"Access-Control-Allow-Origin": "https://chat.example", "Accept-Ranges": "bytes", "Content-Length": "1000"} {
				if h.Get(k) != want {
					t.Errorf("%s: %q, want %q", k, h.Get(k), want)
				}
			}
		})
	}
	// A UTF-8 name with spaces keeps its name in the RFC 2231 form.
	p := "g/Ünï cødé.txt"
	e.put(e.v1URL(p, 3), []byte("abc"), "Content-Type", "text/plain")
	r, _ := e.get(p)
	if d := r.Header.Get("Content-Disposition"); d != `inline; filename*=utf-8''%C3%9Cn%C3%AF%20c%C3%B8d%C3%A9.txt` {
		t.Fatalf("disposition %q", d)
	}

	r, got := e.get("g/pic.png", "Range", "bytes=10-19")
	if r.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[10:20]) || r.Header.Get("Content-Range") != "bytes 10-19/1000" {
		t.Fatalf("range: %d %q", r.StatusCode, r.Header.Get("Content-Range"))
	}
	r, _ = e.get("g/pic.png", "Range", "bytes=2000-")
	if r.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable range: %d", r.StatusCode)
	}
	r, _ = e.get("g/pic.png")
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("etag %q", etag)
	}
	r, got = e.get("g/pic.png", "If-None-Match", etag)
	if r.StatusCode != http.StatusNotModified || len(got) != 0 {
		t.Fatalf("If-None-Match: %d", r.StatusCode)
	}
	r, got = e.request(http.MethodHead, "g/pic.png")
	if r.StatusCode != 200 || len(got) != 0 || r.Header.Get("Content-Length") != "1000" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("HEAD %d %v", r.StatusCode, r.Header)
	}
	// A file with no row (put there by hand, or a temporary file) is not served.
	_ = os.WriteFile(filepath.Join(e.dir, "g", "byhand.txt"), []byte("x"), 0o600)
	_ = os.WriteFile(filepath.Join(e.dir, "g", tempPrefix+"abc.part"), []byte("x"), 0o600)
	for _, p := range []string{"g/byhand.txt", "g/" + tempPrefix + "abc.part", "g/missing.png", "g"} {
		if r, _ := e.get(p); r.StatusCode != 404 {
			t.Fatalf("%s: %d", p, r.StatusCode)
		}
	}
	// The query is not needed (the URL is the capability), and is ignored.
	req, _ := http.NewRequest("GET", e.srv.URL+"/upload/g/pic.png?v=whatever", nil)
	if r := e.do(req); r.StatusCode != 200 {
		t.Fatalf("GET with a query: %d", r.StatusCode)
	}
}

// TestPreflight: the CORS preflight of a web client's PUT.
func TestPreflight(t *testing.T) {
	e := newEnv(t, envOpt{})
	r, _ := e.request(http.MethodOptions, "s/a.png", "Origin", "https://web.example", "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "authorization,content-type")
	h := r.Header
	if r.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://web.example" ||
		h.Get("Access-Control-Allow-Methods") != "GET, HEAD, PUT, OPTIONS" || h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" {
		t.Fatalf("%d %v", r.StatusCode, h)
	}
	// The PUT's own answers carry CORS too (a browser reads neither a 201 nor a 403 without it).
	resp := e.put(e.v1URL("s/a.png", 3), []byte("abc"), "Origin", "https://web.example")
	if resp.StatusCode != 201 || resp.Header.Get("Access-Control-Allow-Origin") != "https://web.example" {
		t.Fatalf("PUT: %d %v", resp.StatusCode, resp.Header)
	}
	resp = e.put(e.v1URL("s/b.png", 4), []byte("abc"), "Origin", "https://web.example")
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "https://web.example" {
		t.Fatalf("refused PUT: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestTTL: files expire by their recorded upload time, one log line each and a summary; a file
// deleted by hand is forgotten.
func TestTTL(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpt{vars: map[string]string{"FILE_TTL": "1h"}, postgres: pg})
			e.put(e.v1URL("old1/a.bin", 100), body(100))
			e.put(e.v1URL("old2/b.bin", 50), body(50))
			e.put(e.v1URL("old3/gone.bin", 7), body(7))
			// The mtime says nothing: a restored file is new on disk, old in the database.
			_ = os.Chtimes(filepath.Join(e.dir, "old1", "a.bin"), time.Now().Add(48*time.Hour), time.Now().Add(48*time.Hour))
			_ = os.Remove(filepath.Join(e.dir, "old3", "gone.bin"))
			e.clk.Add(30 * time.Minute)
			e.put(e.v1URL("new/c.bin", 10), body(10))
			// A temporary file a crash left two hours ago goes too; a live upload's stays.
			stale := filepath.Join(e.dir, "old1", tempPrefix+"crashed.part")
			live := filepath.Join(e.dir, "new", tempPrefix+"live.part")
			_ = os.WriteFile(stale, []byte("x"), 0o600)
			_ = os.WriteFile(live, []byte("x"), 0o600)
			_ = os.Chtimes(stale, e.clk.Now().Add(-2*time.Hour), e.clk.Now().Add(-2*time.Hour))
			_ = os.Chtimes(live, e.clk.Now().Add(5*time.Minute), e.clk.Now().Add(5*time.Minute))
			e.clk.Add(31 * time.Minute)
			e.svc.tidyMu.Lock()
			e.svc.lastSweep = time.Time{}
			e.svc.tidyMu.Unlock()
			e.svc.tidy()
			if _, err := os.Stat(stale); !os.IsNotExist(err) {
				t.Fatalf("stale temporary file kept: %v", err)
			}
			if _, err := os.Stat(live); err != nil {
				t.Fatalf("live temporary file removed: %v", err)
			}
			for _, p := range []string{"old1/a.bin", "old2/b.bin"} {
				if _, err := os.Stat(filepath.Join(e.dir, filepath.FromSlash(p))); !os.IsNotExist(err) {
					t.Fatalf("%s not expired: %v", p, err)
				}
				if _, err := os.Stat(filepath.Join(e.dir, filepath.Dir(p))); !os.IsNotExist(err) {
					t.Fatalf("%s's empty folder kept", p)
				}
				if r, _ := e.get(p); r.StatusCode != 404 {
					t.Fatalf("GET %s: %d", p, r.StatusCode)
				}
			}
			if r, _ := e.get("new/c.bin"); r.StatusCode != 200 {
				t.Fatalf("young file: %d", r.StatusCode)
			}
			if n := testutilCounter(t, e, "upload_expired_total", ""); n != 2 {
				t.Fatalf("expired_total %v", n)
			}
			if n := testutilCounter(t, e, "upload_expired_bytes_total", ""); n != 150 {
				t.Fatalf("expired bytes %v", n)
			}
			if f, b := testutilCounter(t, e, "upload_stored_files", ""), testutilCounter(t, e, "upload_stored_bytes", ""); f != 1 || b != 10 {
				t.Fatalf("stored %v files %v bytes", f, b)
			}
			logs := e.log.String()
			if strings.Count(logs, `"msg":"upload expired"`) != 2 || !strings.Contains(logs, `"msg":"upload janitor run","expired":2,"bytes_freed":150`) ||
				!strings.Contains(logs, `"msg":"upload forgotten: its file was already gone","path":"old3/gone.bin"`) {
				t.Fatalf("log:\n%s", logs)
			}
		})
	}
}
