package upload

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestFileShareAnswers: Prosody 0.12 mod_http_file_share's verifier answers, each one.
func TestFileShareAnswers(t *testing.T) {
	e := newEnv(t, envOpt{})
	now := e.clk.Now()
	tok := func(slot, name string, size int, exp time.Duration) string {
		return "Bearer " + fileShareToken(testSecret, slot, name, size, "image/png", now, exp)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"slot": "s1", "filename": "a.png", "filesize": 5,
		"exp": now.Add(time.Minute).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"slot": "s1", "filename": "a.png", "filesize": 5}).SignedString([]byte(testSecret))
	for _, tc := range []struct {
		name, path, authz string
		size              int
		want              int
		wwwAuth           bool
	}{
		{"no token", "s1/a.png", "", 5, 403, true},
		{"not bearer", "s1/a.png", "Basic cm9tZW86cA==", 5, 401, true},
		{"empty bearer", "s1/a.png", "Bearer ", 5, 401, true},
		{"garbage", "s1/a.png", "Bearer not.a.jwt", 5, 401, true},
		{"wrong key", "s1/a.png", "Bearer " + fileShareToken("another-secret-9f8e7d6c5b4a", "s1", "a.png", 5, "image/png", now, time.Minute), 5, 401, true},
		{"alg none", "s1/a.png", "Bearer " + none, 5, 401, true},
		{"no exp", "s1/a.png", "Bearer " + noExp, 5, 401, true},
		{"expired", "s1/a.png", tok("s1", "a.png", 5, -time.Second), 5, 410, false},
		{"other slot", "s2/a.png", tok("s1", "a.png", 5, time.Minute), 5, 400, false},
		{"other name", "s1/b.png", tok("s1", "a.png", 5, time.Minute), 5, 400, false},
		{"size differs", "s1/a.png", tok("s1", "a.png", 6, time.Minute), 5, 413, false},
		{"ok", "s1/a.png", tok("s1", "a.png", 5, time.Minute), 5, 201, false},
		{"again", "s1/a.png", tok("s1", "a.png", 5, time.Minute), 5, 409, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Content-Type", "image/png"}
			if tc.authz != "" {
				hdr = append(hdr, "Authorization", tc.authz)
			}
			r := e.put(e.srv.URL+"/upload/"+tc.path, body(tc.size), hdr...)
			if r.StatusCode != tc.want || (r.Header.Get("WWW-Authenticate") == "Bearer") != tc.wwwAuth {
				t.Fatalf("%d WWW-Authenticate %q, want %d %v", r.StatusCode, r.Header.Get("WWW-Authenticate"), tc.want, tc.wwwAuth)
			}
		})
	}
}

// TestRefusals: every refusal before the body, with its status and metric reason, and nothing
// written.
func TestRefusals(t *testing.T) {
	e := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_MAX_SIZE": "1KB", "UPLOAD_EXTENSIONS": "jpg,txt"}})
	signed := func(p string, n int) string { return e.v1URL(p, n) }
	raw := func(rawPath, p string, n int) string {
		return e.srv.URL + "/upload/" + rawPath + "?v=" + mac(testSecret, p+" "+strconv.Itoa(n))
	}
	if r := e.put(signed("ok/exists.txt", 3), []byte("abc")); r.StatusCode != 201 {
		t.Fatalf("setup %d", r.StatusCode)
	}
	for _, tc := range []struct {
		name, url string
		n         int
		method    string
		want      int
		reason    string
	}{
		{"bad MAC", e.srv.URL + "/upload/a/b.txt?v=" + strings.Repeat("0", 64), 3, "PUT", 403, "signature"},
		{"MAC not hex", e.srv.URL + "/upload/a/b.txt?v=thisisinvalid", 3, "PUT", 403, "signature"},
		{"MAC upper case", e.srv.URL + "/upload/a/b.txt?v=" + strings.ToUpper(mac(testSecret, "a/b.txt 3")), 3, "PUT", 403, "signature"},
		{"v2 for another type", e.v2URL("v2", "a/b.txt", 3, "image/jpeg"), 3, "PUT", 403, "signature"}, // sent as text/plain
		{"v1 MAC as v2", e.srv.URL + "/upload/a/b.txt?v2=" + mac(testSecret, "a/b.txt 3"), 3, "PUT", 403, "signature"},
		{"MAC for another size", e.srv.URL + "/upload/a/b.txt?v=" + mac(testSecret, "a/b.txt 4"), 3, "PUT", 403, "signature"},
		{"dot-dot", raw("a/../b.txt", "a/../b.txt", 3), 3, "PUT", 400, "path"},
		{"encoded dot-dot", raw("a/%2e%2e/b.txt", "a/../b.txt", 3), 3, "PUT", 400, "path"},
		{"dot", raw("a/./b.txt", "a/./b.txt", 3), 3, "PUT", 400, "path"},
		{"backslash", raw("a/%5Cb.txt", "a/\\b.txt", 3), 3, "PUT", 400, "path"},
		{"NUL", raw("a/b%00.txt", "a/b\x00.txt", 3), 3, "PUT", 400, "path"},
		{"control", raw("a/b%01.txt", "a/b\x01.txt", 3), 3, "PUT", 400, "path"},
		{"empty segment", raw("a//b.txt", "a//b.txt", 3), 3, "PUT", 400, "path"},
		{"trailing slash", raw("a/b/", "a/b/", 3), 3, "PUT", 400, "path"},
		{"bad UTF-8", raw("a/%ff.txt", "a/\xff.txt", 3), 3, "PUT", 400, "path"},
		{"outside the prefix", e.srv.URL + "/other/a.txt", 3, "PUT", 404, "not_found"},
		{"over UPLOAD_MAX_SIZE", signed("big/b.jpg", 2048), 2048, "PUT", 413, "max_size"},
		{"extension", signed("x/page.html", 3), 3, "PUT", 415, "extension"},
		{"no extension", signed("x/page", 3), 3, "PUT", 415, "extension"},
		{"exists", signed("ok/exists.txt", 3), 3, "PUT", 409, "exists"},
		{"a file where a folder is needed", signed("ok/exists.txt/under.txt", 3), 3, "PUT", 409, "exists"},
		{"a folder's name, no extension", signed("ok", 3), 3, "PUT", 415, "extension"},
		{"method", signed("ok/exists.txt", 3), 0, "DELETE", 405, "method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutilCounter(t, e, "upload_refusals_total", tc.reason)
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(string(body(tc.n))))
			req.Header.Set("Content-Type", "text/plain")
			r := e.do(req)
			if r.StatusCode != tc.want {
				t.Fatalf("%d, want %d", r.StatusCode, tc.want)
			}
			if got := testutilCounter(t, e, "upload_refusals_total", tc.reason); got != before+1 {
				t.Fatalf("refusals{reason=%q} %v -> %v", tc.reason, before, got)
			}
		})
	}
	// Nothing but the one stored file is in the folder.
	var names []string
	_ = filepath.Walk(e.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if len(names) != 1 {
		t.Fatalf("files %v", names)
	}
	// No Content-Length: the MAC signs the size, so a chunked PUT cannot be verified.
	req, _ := http.NewRequest("PUT", signed("c/chunked.txt", 3), strings.NewReader("abc"))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	if r := e.do(req); r.StatusCode != http.StatusLengthRequired {
		t.Fatalf("chunked: %d", r.StatusCode)
	}
}

// TestMinFree: an upload that would leave less than UPLOAD_MIN_FREE is 507, before its body.
func TestMinFree(t *testing.T) {
	e := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_MIN_FREE": "1MB"}, free: func() (int64, error) { return 1<<20 + 100, nil }})
	if r := e.put(e.v1URL("f/small.bin", 100), body(100)); r.StatusCode != 201 {
		t.Fatalf("fits exactly: %d", r.StatusCode)
	}
	if r := e.put(e.v1URL("f/big.bin", 101), body(101)); r.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("over: %d", r.StatusCode)
	}
	if got := testutilCounter(t, e, "upload_refusals_total", "disk_full"); got != 1 {
		t.Fatalf("disk_full refusals %v", got)
	}
	// The real statfs of the folder: nobody has an exabyte free.
	e2 := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_MIN_FREE": "1000PB"}})
	if r := e2.put(e2.v1URL("f/a.bin", 1), body(1)); r.StatusCode != http.StatusInsufficientStorage {
		t.Fatalf("real statfs: %d", r.StatusCode)
	}
}

// TestProsodyJWTFormat: a token built the way Prosody's util/jwt builds it (its static header,
// unpadded base64url, util.json's escaped slashes, integer claims) is accepted.
func TestProsodyJWTFormat(t *testing.T) {
	e := newEnv(t, envOpt{})
	b64 := func(s []byte) string { return base64.RawURLEncoding.EncodeToString(s) }
	now := e.clk.Now().Unix()
	payload := fmt.Sprintf(`{"expires":%d,"filename":"vid\u00e9o 1.mp4","filesize":4,"filetype":"video\/mp4","iat":%d,"exp":%d,"slot":"3b0c8c2e-05c1-4cc1-9f0e-1b2f9a3c4d5e","sub":"juliet@capulet.lit"}`,
		now+86400, now, now+300)
	signed := b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64([]byte(payload))
	h := hmac.New(sha256.New, []byte(testSecret))
	h.Write([]byte(signed))
	tok := signed + "." + b64(h.Sum(nil))
	r := e.put(e.srv.URL+"/upload/3b0c8c2e-05c1-4cc1-9f0e-1b2f9a3c4d5e/vid%C3%A9o%201.mp4", []byte("abcd"), "Authorization", "Bearer "+tok)
	if r.StatusCode != 201 {
		t.Fatalf("Prosody-made token: %d", r.StatusCode)
	}
	if g, _ := e.get("3b0c8c2e-05c1-4cc1-9f0e-1b2f9a3c4d5e/vidéo 1.mp4"); g.Header.Get("Content-Type") != "video/mp4" {
		t.Fatalf("type %q", g.Header.Get("Content-Type"))
	}
}
