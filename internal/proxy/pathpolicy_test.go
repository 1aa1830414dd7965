package proxy

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/testutil"
)

const allSkips = "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition"

// raw sends "GET <target>" byte for byte over TCP: Go's client rewrites a target starting with
// "//" into the absolute form, and these tests need the exact spelling to arrive.
func (e *testEnv) raw(target string) result {
	e.t.Helper()
	status, header, body, err := testutil.RawGet(strings.TrimPrefix(e.srv.URL, "http://"), target, "CF-Connecting-IP: "+testIP)
	if status == 0 {
		e.t.Fatalf("%s: %v", target, err)
	}
	return result{status: status, header: header, body: body, err: err}
}

// TestPolicyOnServedPath: the policy judges the path AList will serve (it turns `\` into `/`
// and cleans), not the path as spelled. The setup: /private blocked, /pub/ public
// without signatures; the fake AList cleans paths exactly like AList. Before, the `..\`
// spellings matched /pub/, skipped every signature and AList streamed /private/secret.txt.
func TestPolicyOnServedPath(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{
		"BLACKLIST_PREFIX": "/private", "BLACKLIST_ACTION": "block",
		"WHITELIST_PREFIX": "/pub/", "WHITELIST_ACTION": allSkips,
	}})
	e.put("/private/secret.txt", []byte("secret"))
	e.put("/pub/f.txt", []byte("public"))
	for _, c := range []struct {
		target  string
		status  int
		message string
	}{
		{`/pub/..\private/secret.txt`, 400, "invalid path encoding"},
		{"/pub/..%5cprivate/secret.txt", 400, "invalid path encoding"},
		{"/pub/..%5Cprivate/secret.txt", 400, "invalid path encoding"},
		{"/pub/%2e%2e%5cprivate/secret.txt", 400, "invalid path encoding"},
		{"/pub%5c..%5cprivate/secret.txt", 400, "invalid path encoding"},
		{"/pub/x%5c..", 400, "invalid path encoding"},                    // trailing /.. after AList's `\` → `/`
		{"/pub/f.txt%00", 400, "invalid path encoding"},                  // NUL
		{"/pub/f.txt%00/../../private/secret.txt", 403, "access denied"}, // dot segments go first (WHATWG)
		{"//private/secret.txt", 403, "access denied"},                   // AList collapses //
		{"/%2fprivate/secret.txt", 403, "access denied"},
		{"/private//secret.txt", 403, "access denied"},
		{"/private%5csecret.txt", 403, "access denied"},
		{"/private/", 403, "access denied"},
	} {
		r := e.raw(c.target)
		if r.status != c.status || strings.Contains(string(r.body), "secret") {
			t.Errorf("%s: %d %q, want %d %s", c.target, r.status, r.body, c.status, c.message)
			continue
		}
		wantJSONError(t, r, c.status, c.message)
	}
	if n := e.alist.TotalCalls(); n != 0 {
		t.Fatalf("refused requests reached AList %d times", n)
	}
	if n := e.store.checks.Load(); n != 0 {
		t.Fatalf("refused requests reached the database %d times", n)
	}
	// What is public stays public, however it is spelled.
	for _, target := range []string{"/pub/f.txt", "/pub//f.txt", "//pub/f.txt", "/pub%5cf.txt", "/pub/./f.txt%5c."} {
		if r := e.raw(target); r.status != 200 || string(r.body) != "public" {
			t.Errorf("%s: %d %q", target, r.status, r.body)
		}
	}
	// AList is asked for the served path, never for the spelling.
	for _, p := range e.alist.Paths() {
		if p != "/pub/f.txt" {
			t.Errorf("AList was asked for %q", p)
		}
	}
}

// TestExceptOnServedPath: EXCEPT_* lists apply to paths matching none of the prefixes, so a
// spelling that escaped the prefix used to escape the signatures: "//private/x" is not under
// "/private" as written, but AList serves /private/x.
func TestExceptOnServedPath(t *testing.T) {
	e := newEnv(t, envOpts{env: map[string]string{
		"EXCEPT_PREFIX": "/private", "EXCEPT_ACTION": strings.ReplaceAll(allSkips, ",", "-except,") + "-except",
	}})
	e.put("/private/x", []byte("secret"))
	e.put("/open.txt", []byte("open"))
	for _, target := range []string{"//private/x", "/private//x", "/%2Fprivate/x", "/private%5cx", "/%5cprivate/x"} {
		wantJSONError(t, e.raw(target), 401, "sign missing")
	}
	if n := e.alist.TotalCalls(); n != 0 {
		t.Fatalf("refused requests reached AList %d times", n)
	}
	if r := e.raw("/open.txt"); r.status != 200 || string(r.body) != "open" {
		t.Fatalf("outside the except prefix: %d %q", r.status, r.body)
	}
	if r := e.raw(e.uri("/private/x", testIP)); r.status != 200 || string(r.body) != "secret" {
		t.Fatalf("signed: %d %q", r.status, r.body)
	}
}

// TestServedPathKeysTheCache: the link cache (and the per-file quota) is keyed by the served
// path: every spelling of one file shares one /api/fs/link answer, and AList is asked for the
// served path. The signatures still cover each spelling as decoded.
func TestServedPathKeysTheCache(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.put("/dir/f.txt", []byte("data"))
	for _, p := range []string{"/dir/f.txt", "/dir//f.txt", "//dir/f.txt"} {
		if r := e.raw(e.uri(p, testIP)); r.status != 200 || string(r.body) != "data" {
			t.Fatalf("%s: %d %q", p, r.status, r.body)
		}
		e.waitCached("/dir/f.txt") // the cache is written behind the answer
	}
	if n := e.alist.Calls("/api/fs/link"); n != 1 {
		t.Fatalf("fs/link called %d times for one file, want 1", n)
	}
	if got := e.alist.Paths(); !slices.Equal(got, []string{"/dir/f.txt"}) {
		t.Fatalf("AList asked for %q", got)
	}
	// A signature for one spelling does not sign another.
	p := e.params("/dir/f.txt", testIP, 4)
	wantJSONError(t, e.raw(uriOfRaw("/dir//f.txt", p)), 401, "sign mismatch")
	if r := e.do(http.MethodHead, uriOfRaw("/dir/f.txt", p), testIP); r.status != 200 {
		t.Fatalf("HEAD: %d", r.status)
	}
}

// TestServedPathLocal: on a local folder `\` is a byte of a name (no ".." is built from it),
// and "//" is what the kernel reads as "/": the policy sees the collapsed path.
func TestServedPathLocal(t *testing.T) {
	e := newEnv(t, envOpts{local: true, env: map[string]string{
		"EXCEPT_PREFIX": "/private", "EXCEPT_ACTION": strings.ReplaceAll(allSkips, ",", "-except,") + "-except",
	}})
	e.put("/private/x", []byte("secret"))
	e.put(`/pub/..\private`, []byte("odd name"))
	for _, target := range []string{"//private/x", "/private//x", "/%2Fprivate/x"} {
		wantJSONError(t, e.raw(target), 401, "sign missing")
	}
	if r := e.raw("/pub/..%5cprivate"); r.status != 200 || string(r.body) != "odd name" {
		t.Fatalf("a name with a backslash: %d %q", r.status, r.body)
	}
	if r := e.raw("/pub/..%5cprivate%5cx"); r.status != 404 {
		t.Fatalf("%d %q", r.status, r.body)
	}
}
