package proxy

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	stdpath "path"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestStreaming is the Range / conditional / HEAD / CORS matrix, through both origins: the
// fake AList's upstream (forwarded untouched) and the local folder (http.ServeContent).
func TestStreaming(t *testing.T) {
	data := testData(1000)
	lastMod := time.Unix(1700000000, 0).UTC().Format(http.TimeFormat)
	type tc struct {
		name   string
		method string
		hdr    []string
		status int
		body   []byte            // nil: not checked
		want   map[string]string // headers
		check  func(t *testing.T, r result)
	}
	cases := []tc{
		{name: "full", status: 200, body: data, want: map[string]string{"Content-Length": "1000", "Accept-Ranges": "bytes",
			"Content-Disposition": `attachment; filename="f.bin"; filename*=UTF-8''f.bin`, "Last-Modified": lastMod,
			"Access-Control-Allow-Origin": "*", "Vary": "Origin"}},
		{name: "range start", hdr: []string{"Range", "bytes=0-9"}, status: 206, body: data[:10],
			want: map[string]string{"Content-Range": "bytes 0-9/1000", "Content-Length": "10"}},
		{name: "range middle", hdr: []string{"Range", "bytes=500-599"}, status: 206, body: data[500:600],
			want: map[string]string{"Content-Range": "bytes 500-599/1000"}},
		{name: "range suffix", hdr: []string{"Range", "bytes=-10"}, status: 206, body: data[990:],
			want: map[string]string{"Content-Range": "bytes 990-999/1000"}},
		{name: "range open ended", hdr: []string{"Range", "bytes=990-"}, status: 206, body: data[990:],
			want: map[string]string{"Content-Range": "bytes 990-999/1000"}},
		{name: "range past end", hdr: []string{"Range", "bytes=5000-"}, status: 416,
			want: map[string]string{"Content-Range": "bytes */1000"}},
		{name: "multi range", hdr: []string{"Range", "bytes=0-1,5-6"}, status: 206, check: func(t *testing.T, r result) {
			mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
			if err != nil || mt != "multipart/byteranges" {
				t.Fatalf("content-type %q", r.header.Get("Content-Type"))
			}
			mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
			var parts [][]byte
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(p)
				parts = append(parts, b)
			}
			if len(parts) != 2 || !bytes.Equal(parts[0], data[0:2]) || !bytes.Equal(parts[1], data[5:7]) {
				t.Fatalf("parts %q", parts)
			}
		}},
		{name: "if-range current", hdr: []string{"Range", "bytes=0-9", "If-Range", lastMod}, status: 206, body: data[:10]},
		{name: "if-range stale", hdr: []string{"Range", "bytes=0-9", "If-Range", "Mon, 02 Jan 2006 15:04:05 GMT"}, status: 200, body: data},
		{name: "if-modified-since", hdr: []string{"If-Modified-Since", time.Unix(1800000000, 0).UTC().Format(http.TimeFormat)}, status: 304, body: []byte{}},
		{name: "modified since", hdr: []string{"If-Modified-Since", time.Unix(1600000000, 0).UTC().Format(http.TimeFormat)}, status: 200, body: data},
		{name: "head", method: http.MethodHead, status: 200, body: []byte{}, want: map[string]string{"Content-Length": "1000"}},
		{name: "head range", method: http.MethodHead, hdr: []string{"Range", "bytes=0-9"}, status: 206, body: []byte{},
			want: map[string]string{"Content-Range": "bytes 0-9/1000"}},
		{name: "cors origin", hdr: []string{"Origin", "https://app.example"}, status: 200, body: data,
			want: map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Vary": "Origin"}},
	}
	for _, local := range []bool{false, true} {
		name := "alist"
		if local {
			name = "local"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{local: local})
			e.put("/dir/f.bin", data)
			target := e.uri("/dir/f.bin", testIP)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					method := c.method
					if method == "" {
						method = http.MethodGet
					}
					r := e.do(method, target, testIP, c.hdr...)
					if r.status != c.status {
						t.Fatalf("status %d, want %d (body %q)", r.status, c.status, r.body)
					}
					if c.body != nil && !bytes.Equal(r.body, c.body) {
						t.Fatalf("body %q, want %q", r.body, c.body)
					}
					for k, v := range c.want {
						if got := r.header.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					if c.check != nil {
						c.check(t, r)
					}
					for _, k := range []string{"Set-Cookie", "Server", "X-Content-Type-Options"} {
						if c.status < 400 && r.header.Get(k) != "" {
							t.Errorf("header %s leaked: %q", k, r.header.Get(k))
						}
					}
				})
			}
		})
	}
}

// TestHeaderAllowlist: only docs/contract.md §9's headers pass from the upstream, and an upstream
// Content-Disposition wins over the default.
func TestHeaderAllowlist(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.alist.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/d/") {
			return false
		}
		h := w.Header()
		h.Set("Set-Cookie", "session=1")
		h.Set("X-Storage-Internal", "secret")
		h.Set("Content-Disposition", `inline; filename="up.txt"`)
		h.Set("Content-Type", "text/plain")
		h.Set("Cache-Control", "max-age=60")
		h.Set("ETag", `"abc"`)
		h.Set("Content-Language", "en")
		h.Set("Access-Control-Allow-Origin", "https://evil.example")
		_, _ = io.WriteString(w, "hello")
		return true
	}
	e.put("/h.txt", []byte("x"))
	r := e.get(e.uri("/h.txt", testIP), "Origin", "https://app.example")
	if r.status != 200 || string(r.body) != "hello" {
		t.Fatalf("%d %q", r.status, r.body)
	}
	want := map[string]string{"Set-Cookie": "", "X-Storage-Internal": "", "Content-Disposition": `inline; filename="up.txt"`,
		"Content-Type": "text/plain", "Cache-Control": "max-age=60", "Etag": `"abc"`, "Content-Language": "en",
		"Access-Control-Allow-Origin": "https://app.example"}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// TestUnicodeFileNames: the default Content-Disposition carries the exact name in filename*.
func TestUnicodeFileNames(t *testing.T) {
	names := []string{"测试文件.zip", "日本語のファイル.pdf", "😀 party 🎉.png", `quote" back\slash.txt`, "100% done;x.txt", "plain.txt"}
	for _, local := range []bool{false, true} {
		e := newEnv(t, envOpts{local: local})
		for _, name := range names {
			p := "/files/" + name
			e.put(p, []byte(name))
			r := e.get(e.uri(p, testIP))
			if r.status != 200 || string(r.body) != name {
				t.Fatalf("%s: %d %q", name, r.status, r.body)
			}
			want := name
			if !local { // AList serves the cleaned path: a `\` is a folder separator to it
				want = stdpath.Base(alisttest.Clean(p))
			}
			cd := r.header.Get("Content-Disposition")
			disp, params, err := mime.ParseMediaType(cd)
			if err != nil || disp != "attachment" || params["filename"] != want {
				t.Fatalf("%s: Content-Disposition %q parsed as %q %v (%v)", name, cd, disp, params, err)
			}
			if !strings.Contains(cd, "filename=\"") || !strings.Contains(cd, "filename*=UTF-8''") {
				t.Fatalf("%s: want both filename and filename*: %q", name, cd)
			}
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a.txt", `attachment; filename="a.txt"; filename*=UTF-8''a.txt`},
		{"中.txt", `attachment; filename="_.txt"; filename*=UTF-8''%E4%B8%AD.txt`},
		{`a"b\c`, `attachment; filename="a_b_c"; filename*=UTF-8''a%22b%5Cc`},
		{"a b", `attachment; filename="a b"; filename*=UTF-8''a%20b`},
		{"", "attachment"},
	} {
		if got := contentDisposition(c.in); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzContentDisposition: whatever the name, the header is one valid line that parses back to
// the name (when the name is valid UTF-8).
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"a.txt", "测试.zip", "😀", `"\`, "\r\nX-Evil: 1", "%41", "a;b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		cd := contentDisposition(name)
		for i := 0; i < len(cd); i++ {
			if c := cd[i]; c < 0x20 || c >= 0x7f {
				t.Fatalf("byte %#x in header %q", c, cd)
			}
		}
		if name == "" || strings.IndexByte(name, 0) >= 0 {
			return
		}
		_, params, err := mime.ParseMediaType(cd)
		if err != nil {
			t.Fatalf("%q: %v", cd, err)
		}
		if isUTF8(name) && params["filename"] != name {
			t.Fatalf("%q: filename %q, want %q", cd, params["filename"], name)
		}
	})
}

func isUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestUsageEqualsDelivered: the Meter is charged exactly the body bytes the client got.
func TestUsageEqualsDelivered(t *testing.T) {
	data := testData(300 << 10)
	for _, local := range []bool{false, true} {
		e := newEnv(t, envOpts{local: local})
		e.put("/u.bin", data)
		target := e.uri("/u.bin", testIP)
		var n int64
		for _, rg := range []string{"", "bytes=0-99", "bytes=-1000"} {
			var r result
			if rg == "" {
				r = e.get(target)
			} else {
				r = e.get(target, "Range", rg)
			}
			n += int64(len(r.body))
		}
		e.do(http.MethodHead, target, testIP)
		e.waitFinished(4)
		if got := e.store.usage.Load(); got != n {
			t.Fatalf("local=%v: usage %d, delivered %d", local, got, n)
		}
		if got := counterValue(t, e.m.BytesStreamed); int64(got) != n {
			t.Fatalf("bytes metric %v, want %d", got, n)
		}
	}
}

func TestMethodAndPreflight(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.put("/f.txt", []byte("x"))
	r := e.do(http.MethodPost, e.uri("/f.txt", testIP), testIP)
	wantJSONError(t, r, 405, "method not allowed")

	r = e.do(http.MethodOptions, "/f.txt", testIP, "Origin", "https://app.example", "Access-Control-Request-Headers", "range,x-custom")
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("preflight %d %q", r.status, r.body)
	}
	for k, v := range map[string]string{"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Methods": "GET,HEAD,POST,OPTIONS",
		"Access-Control-Max-Age": "86400", "Access-Control-Allow-Headers": "range,x-custom", "Vary": "Origin"} {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// IPV4_ONLY comes before the preflight.
	r = e.do(http.MethodOptions, "/f.txt", "2001:db8::1")
	wantJSONError(t, r, 403, "ipv6 access is prohibited")
	if e.alist.TotalCalls() != 0 || e.store.checks.Load() != 0 {
		t.Fatal("refused or preflight request reached AList or the database")
	}
	// A file named like an operational endpoint is just a file.
	e.put("/healthz", []byte("not health"))
	r = e.get(e.uri("/healthz", testIP))
	if r.status != 200 || string(r.body) != "not health" {
		t.Fatalf("/healthz: %d %q", r.status, r.body)
	}
}

func TestLocalOriginConfinement(t *testing.T) {
	e := newEnv(t, envOpts{local: true})
	e.put("/in/ok.txt", []byte("ok"))
	outside := t.TempDir()
	if err := writeFile(outside+"/secret.txt", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := symlink(outside+"/secret.txt", e.local+"/in/escape.txt"); err != nil {
		t.Fatal(err)
	}
	if err := symlink("ok.txt", e.local+"/in/alias.txt"); err != nil { // relative, inside the root
		t.Fatal(err)
	}
	if err := symlink(e.local+"/in/ok.txt", e.local+"/in/absolute.txt"); err != nil { // os.Root refuses absolute targets
		t.Fatal(err)
	}
	signed := func(raw string) string {
		_, dec, err := requestPathForTest(raw)
		if err != nil {
			t.Fatal(err)
		}
		p := e.params(dec, testIP, 1)
		return uriOfRaw(raw, p)
	}
	for _, c := range []struct {
		raw    string
		status int
		body   string
	}{
		{"/in/ok.txt", 200, "ok"},
		{"/in/alias.txt", 200, "ok"},   // symlink inside the root
		{"/in/escape.txt", 403, ""},    // symlink out of the root
		{"/in", 404, ""},               // a directory
		{"/in/", 404, ""},              // a directory
		{"/", 404, ""},                 // the root
		{"/missing.txt", 404, ""},      // missing
		{"/in/ok.txt%00.png", 400, ""}, // NUL: refused before the folder (sign.ServedPath)
	} {
		r := e.get(signed(c.raw))
		if r.status != c.status || (c.body != "" && string(r.body) != c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.raw, r.status, r.body, c.status, c.body)
		}
		if c.status >= 400 && strings.Contains(string(r.body), "secret") {
			t.Errorf("%s leaked the file", c.raw)
		}
	}
	// Encoded dot segments are refused before the folder is asked (sign.RequestPath).
	for _, raw := range []string{"/in%2F..%2F..%2F" + "secret.txt", "/in/..%2F..%2Fetc%2Fpasswd"} {
		wantJSONError(t, e.get(raw+"?sign=x"), 400, "invalid path encoding")
	}
}
