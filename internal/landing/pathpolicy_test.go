package landing

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/testutil"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// raw sends "GET <target>" byte for byte over TCP (Go's client turns a target starting with
// "//" into the absolute form).
func (e *tenv) raw(target string, headerLines ...string) resp {
	e.t.Helper()
	status, header, body, err := testutil.RawGet(strings.TrimPrefix(e.srv.URL, "http://"), target,
		append([]string{"CF-Connecting-IP: " + testIP}, headerLines...)...)
	if status == 0 {
		e.t.Fatalf("%s: %v", target, err)
	}
	return resp{status: status, header: header, body: string(body)}
}

// signedRaw is target (an encoded path) with a valid AList sign for its decoded form: the
// policy, not the sign, must stop it.
func (e *tenv) signedRaw(target string) string {
	e.t.Helper()
	_, dec, err := sign.RequestPath(target)
	if err != nil {
		e.t.Fatal(err)
	}
	return target + "?sign=" + url.QueryEscape(e.keyring().Sign(dec, 0))
}

// TestLandingPolicyOnServedPath: the landing decides BLACKLIST_* on the path AList will serve.
// Before, "//private/secret.txt" was not under /private as written, so the landing asked
// AList (which serves /private/secret.txt) and issued a download link.
func TestLandingPolicyOnServedPath(t *testing.T) {
	e := newEnv(t, map[string]string{"FAST_REDIRECT": "true", "BLACKLIST_PREFIX": "/private", "BLACKLIST_ACTION": "block"}, envOpt{})
	e.alist.Put("/private/secret.txt", &alisttest.File{Data: []byte("secret")})
	for _, c := range []struct {
		target  string
		status  int
		message string
	}{
		{"//private/secret.txt", 403, "access denied"},
		{"/%2Fprivate/secret.txt", 403, "access denied"},
		{"/private//secret.txt", 403, "access denied"},
		{"/private%5csecret.txt", 403, "access denied"},
		{`/pub/..\private/secret.txt`, 400, "invalid path encoding"},
		{"/pub/..%5cprivate/secret.txt", 400, "invalid path encoding"},
		{"/pub/x%5C..", 400, "invalid path encoding"},
		{"/pub/f.txt%00", 400, "invalid path encoding"},
	} {
		if r := e.raw(e.signedRaw(c.target)); r.status != c.status || r.message(t) != c.message {
			t.Errorf("%s: %d %s, want %d %s", c.target, r.status, r.body, c.status, c.message)
		}
		// /info carries the same path in its query.
		_, dec, _ := sign.RequestPath(c.target)
		info := "/info?path=" + url.QueryEscape(c.target) + "&sign=" + url.QueryEscape(e.keyring().Sign(dec, 0))
		if r := e.raw(info); r.status != c.status || r.message(t) != c.message {
			t.Errorf("/info %s: %d %s, want %d %s", c.target, r.status, r.body, c.status, c.message)
		}
	}
	if n := e.alist.TotalCalls(); n != 0 {
		t.Fatalf("refused requests reached AList %d times", n)
	}
}

// TestLandingExceptOnServedPath: an except action that waives the bot check outside /private
// must not be reachable by spelling a /private path differently.
func TestLandingExceptOnServedPath(t *testing.T) {
	e := newEnv(t, map[string]string{"ALTCHA_ENABLED": "true", "EXCEPT_PREFIX": "/private", "EXCEPT_ACTION": "pass-server-except"}, envOpt{})
	e.alist.Put("/private/x", &alisttest.File{Data: []byte("secret")})
	e.alist.Put("/open.txt", &alisttest.File{Data: []byte("open")})
	if r := e.raw(e.signedRaw("/open.txt")); r.status != 302 {
		t.Fatalf("outside the except prefix: %d %s", r.status, r.body)
	}
	for _, target := range []string{"/private/x", "//private/x", "/private//x", "/%2Fprivate%5Cx"} {
		r := e.raw(e.signedRaw(target), "Accept: "+acceptChromium) // a browser: the page (a download manager gets the JSON 403)
		if r.status != 200 || pageCfg(t, r.body).Pow == nil {
			t.Errorf("%s: %d %v, want the page with the proof-of-work", target, r.status, r.header)
		}
	}
}

// TestLandingAsksServedPath: AList is asked for the served path; the download URL keeps the
// path as received and the signatures cover the decoded path (additionalInfo.pathHash too).
func TestLandingAsksServedPath(t *testing.T) {
	e := newEnv(t, map[string]string{"FAST_REDIRECT": "true"}, envOpt{})
	e.alist.Put("/dir/f.txt", &alisttest.File{Data: []byte("12345")})
	r := e.raw(e.signedRaw("/dir//f.txt"))
	if r.status != 302 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "https://dl1.example.com/dir//f.txt?sign=") {
		t.Fatalf("Location %q", loc)
	}
	info := decodeAdditional(t, loc)
	if info.FileSize != 5 || info.PathHash != sign.PathHash("/dir//f.txt") {
		t.Fatalf("additionalInfo %+v", info)
	}
	if got := e.alist.Paths(); !slices.Equal(got, []string{"/dir/f.txt"}) {
		t.Fatalf("AList asked for %q", got)
	}
}
