package xmpptest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const secret = "e2e-shared-secret"

// seen is one request as the upload service would receive it.
type seen struct {
	Method     string
	RequestURI string
	Path       string // r.URL.Path: percent-decoded once
	Query      url.Values
	Header     http.Header
	Length     int64
	Body       []byte
}

// recorder stands where the upload service will: it records what the real clients send with
// what Prosody signed, answering 201 to the first PUT of a path and 409 after, so the clients'
// status handling is exercised too. It verifies nothing itself; the tests do.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
	done map[string]bool
}

func newRecorder(t *testing.T) (*recorder, *httptest.Server) {
	rec := &recorder{done: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.reqs = append(rec.reqs, seen{r.Method, r.RequestURI, r.URL.Path, r.URL.Query(), r.Header.Clone(), r.ContentLength, body})
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if rec.done[r.URL.Path] {
			w.WriteHeader(http.StatusConflict)
			return
		}
		rec.done[r.URL.Path] = true
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	return rec, srv
}

func (rec *recorder) all() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func mac(msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// claims is mod_http_file_share's JWT payload.
type claims struct {
	Sub      string `json:"sub"`
	Iat      int64  `json:"iat"`
	Exp      int64  `json:"exp"`
	Slot     string `json:"slot"`
	Expires  int64  `json:"expires"`
	Filename string `json:"filename"`
	Filesize int64  `json:"filesize"`
	Filetype string `json:"filetype"`
}

// verifyJWT checks an HS256 JWT with the shared secret and returns its header and claims.
func verifyJWT(t *testing.T, token string) (map[string]string, claims) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d parts", len(parts))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		t.Fatalf("JWT signature does not verify with the shared secret (%v)", err)
	}
	var hdr map[string]string
	var c claims
	for i, v := range []any{&hdr, &c} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("JWT part %d: %v: %s", i, err, raw)
		}
	}
	return hdr, c
}

// TestProsodySignsWhatTheServiceVerifies runs real Prosody in each mode and the real slixmpp
// client, and checks against the requests the service receives the protocol facts the upload
// service's verifier relies on (docs/upload-e2e.md): which parameter carries the MAC, the exact
// message it covers, the URL shape and, for mod_http_file_share, the JWT and its claims.
func TestProsodySignsWhatTheServiceVerifies(t *testing.T) {
	name := "héllo wörld.txt" // UTF-8 and spaces: Prosody signs the raw name, escapes it in the URL
	// Characters Prosody's two URL escapers and aiohttp's requoting treat differently; the path
	// percent-decoded once must still be the signed name ("+" stays "+", "%25" is a literal "%").
	const tricky = "a+b&c=d?e#f%2Fg~h'i(j)!*,;:@$.txt"
	data := []byte("hello, real prosody\n")
	const ctype = "text/plain"
	for _, mode := range Modes {
		t.Run(string(mode), func(t *testing.T) {
			rec, srv := newRecorder(t)
			p := Start(t, mode, srv.URL+"/upload/", secret)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := p.Upload(ctx, Upload{Name: name, ContentType: ctype, Data: data, Puts: 2})
			if err != nil {
				t.Fatalf("%v\nprosody log:\n%s", err, p.Log())
			}
			if len(res.Puts) != 2 || res.Puts[0].Status != http.StatusCreated || res.Puts[1].Status != http.StatusConflict {
				t.Fatalf("PUT statuses %+v, want 201 then 409", res.Puts)
			}
			res2, err := p.Upload(ctx, Upload{Name: tricky, ContentType: "image/png", Data: data[:5]})
			if err != nil {
				t.Fatalf("%v\nprosody log:\n%s", err, p.Log())
			}
			reqs := rec.all()
			if len(reqs) != 3 {
				t.Fatalf("service saw %d requests, want 3", len(reqs))
			}
			if reqs[1].RequestURI != reqs[0].RequestURI {
				t.Fatalf("second PUT of the slot went to %q, first to %q", reqs[1].RequestURI, reqs[0].RequestURI)
			}
			checkSigned(t, p, reqs[0], res.Slot, name, ctype, data)
			checkSigned(t, p, reqs[2], res2.Slot, tricky, "image/png", data[:5])
		})
	}
}

// checkSigned asserts that the PUT r carries exactly what Prosody signed for this slot.
func checkSigned(t *testing.T, p *Server, r seen, slot Slot, name, ctype string, data []byte) {
	t.Helper()
	if r.Method != http.MethodPut || string(r.Body) != string(data) || r.Length != int64(len(data)) {
		t.Fatalf("PUT %s body %q length %d", r.Method, r.Body, r.Length)
	}
	if got := r.Header.Get("Content-Type"); got != ctype {
		t.Fatalf("Content-Type %q, want the declared %q", got, ctype)
	}
	segs := strings.Split(strings.TrimPrefix(r.Path, "/upload/"), "/")
	if len(segs) != 2 || segs[1] != name {
		t.Fatalf("path %q (raw %q): want /upload/<slot>/%s", r.Path, r.RequestURI, name)
	}
	P := segs[0] + "/" + segs[1]
	L := strconv.FormatInt(r.Length, 10)
	get, err := url.Parse(slot.Get)
	if err != nil || get.RawQuery != "" || get.Path != r.Path {
		t.Fatalf("GET URL %q: want the PUT path %q without a query", slot.Get, r.Path)
	}
	switch p.Mode {
	case ExtV1:
		if len(r.Query) != 1 || r.Query.Get("v") != mac(P+" "+L) {
			t.Fatalf("query %v: want only v = HMAC(%q)", r.Query, P+" "+L)
		}
	case ExtV2:
		msg := P + "\x00" + L + "\x00" + r.Header.Get("Content-Type")
		if len(r.Query) != 1 || r.Query.Get("v2") != mac(msg) {
			t.Fatalf("query %v: want only v2 = HMAC(%q)", r.Query, msg)
		}
	case Share:
		if len(r.Query) != 0 {
			t.Fatalf("query %v: want none", r.Query)
		}
		auth := r.Header.Get("Authorization")
		if auth != slot.Headers["Authorization"] || !strings.HasPrefix(auth, "Bearer ") {
			t.Fatalf("Authorization %q: want the slot's %q", auth, slot.Headers["Authorization"])
		}
		hdr, c := verifyJWT(t, strings.TrimPrefix(auth, "Bearer "))
		if hdr["alg"] != "HS256" || hdr["typ"] != "JWT" {
			t.Fatalf("JWT header %v", hdr)
		}
		want := claims{Sub: p.User, Iat: c.Iat, Exp: c.Iat + 300, Slot: segs[0], Expires: c.Iat + 7*86400,
			Filename: name, Filesize: int64(len(data)), Filetype: ctype}
		if c != want {
			t.Fatalf("claims %+v\nwant   %+v", c, want)
		}
		if now := time.Now().Unix(); c.Iat < now-60 || c.Iat > now+60 {
			t.Fatalf("iat %d is not now (%d)", c.Iat, now)
		}
	}
}

// TestGoSendxmppSignsTheSniffedType: go-sendxmpp declares the type it sniffs from the bytes, so a
// .jpg that is not a JPEG is declared (and v2-signed) as application/octet-stream; a verifier
// that derives the type from the extension refuses this real client.
func TestGoSendxmppSignsTheSniffedType(t *testing.T) {
	rec, srv := newRecorder(t)
	p := Start(t, ExtV2, srv.URL+"/upload/", secret)
	path := filepath.Join(t.TempDir(), "photo.jpg")
	data := []byte("not really a jpeg, just bytes\x00\x01\x02")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := p.SendFile(ctx, path); err != nil {
		t.Fatalf("%v\nprosody log:\n%s", err, p.Log())
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("service saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	ct := r.Header.Get("Content-Type")
	if ct != "application/octet-stream" {
		t.Fatalf("go-sendxmpp declared %q for a non-JPEG .jpg, want application/octet-stream", ct)
	}
	P := strings.TrimPrefix(r.Path, "/upload/")
	msg := P + "\x00" + strconv.Itoa(len(data)) + "\x00" + ct
	if r.Query.Get("v2") != mac(msg) || string(r.Body) != string(data) {
		t.Fatalf("v2 %q does not cover %q (or body differs)", r.Query.Get("v2"), msg)
	}
}

// TestClientOptions: a refused login comes back as an error, not as an empty result; Puts < 0
// only asks for the slot (for tests that tamper with it and PUT themselves); Size announces a
// size other than the body's, and the MAC covers the announced one; Get fetches the GET URL
// (the recorder answers GET with 405) and reports the answer.
func TestClientOptions(t *testing.T) {
	rec, srv := newRecorder(t)
	p := Start(t, ExtV1, srv.URL+"/upload/", secret)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := p.UploadAs(ctx, p.User, "wrong-password", Upload{Name: "a.txt", Data: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "authentication failed") {
		t.Fatalf("wrong password: err = %v, want authentication failed", err)
	}
	res, err := p.Upload(ctx, Upload{Name: "b.txt", Data: []byte("xyz"), Size: 100, Puts: -1})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 0 || len(res.Puts) != 0 {
		t.Fatalf("slot only: service saw %d requests, client reports %d PUTs", n, len(res.Puts))
	}
	u, err := url.Parse(res.Slot.Put)
	if err != nil {
		t.Fatal(err)
	}
	if want := mac(strings.TrimPrefix(u.Path, "/upload/") + " 100"); u.Query().Get("v") != want {
		t.Fatalf("slot %q: v does not cover the announced size 100", res.Slot.Put)
	}
	res, err = p.Upload(ctx, Upload{Name: "c.txt", Data: []byte("hello"), Get: true})
	if err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if res.Get == nil || res.Get.Status != http.StatusMethodNotAllowed || len(reqs) != 2 ||
		reqs[1].Method != http.MethodGet || reqs[1].RequestURI != strings.SplitN(reqs[0].RequestURI, "?", 2)[0] {
		t.Fatalf("GET: result %+v, requests %+v", res.Get, reqs)
	}
}
