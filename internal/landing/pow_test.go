package landing

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

func powEnv(t *testing.T, vars map[string]string) *tenv {
	v := map[string]string{"ALTCHA_ENABLED": "true", "ALTCHA_DIFFICULTY": "2000", "ALTCHA_TOKEN_EXPIRE": "3m"}
	for k, x := range vars {
		v[k] = x
	}
	e := newEnv(t, v, envOpt{})
	for _, p := range []string{"/a.txt", "/b.txt"} {
		e.alist.Put(p, &alisttest.File{Data: []byte("hello " + p)})
	}
	return e
}

// challengeFor loads the page for p as ip and returns its challenge.
func (e *tenv) challengeFor(p, ip string) *Challenge {
	e.t.Helper()
	r := e.req("GET", e.link(p), ip, http.Header{"Accept": {acceptChromium}}, nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("page: %d %s", r.status, r.body)
	}
	c := pageCfg(e.t, r.body)
	if c.URL != "" {
		e.t.Fatal("a page that needs the proof-of-work carries the download URL")
	}
	return c.Pow
}

func TestProofOfWork(t *testing.T) {
	e := powEnv(t, nil)
	other := "198.51.100.9" // another /32 subnet

	// A page view costs no AList call: the bot check comes first.
	ch := e.challengeFor("/a.txt", testIP)
	if e.alist.TotalCalls() != 0 {
		t.Fatal("the page called AList before the proof-of-work")
	}
	if ch.Algorithm != "SHA-256" || ch.MaxNumber != 2000 || !strings.Contains(ch.Salt, "&path=") || len(ch.Signature) != 64 {
		t.Fatalf("challenge %+v", ch)
	}
	good := solve(t, ch)

	// Refusals that must not spend the nonce.
	var p Payload
	raw, _ := base64.StdEncoding.DecodeString(good)
	_ = json.Unmarshal(raw, &p)
	wrongNumber := payload(ch, p.Number+1)
	forged := *ch
	forged.Signature = strings.Repeat("0", 64)
	for _, tc := range []struct {
		name, path, ip, altcha string
		status                 int
		msg                    string
	}{
		{"missing", "/a.txt", testIP, "", 403, "proof of work required"},
		{"garbage", "/a.txt", testIP, "!!!", 403, "proof of work invalid"},
		{"wrong number", "/a.txt", testIP, wrongNumber, 403, "proof of work invalid"},
		{"forged signature", "/a.txt", testIP, payload(&forged, p.Number), 403, "proof of work invalid"},
		{"other path", "/b.txt", testIP, good, 403, "proof of work is for another file"},
		{"other subnet", "/a.txt", other, good, 403, "proof of work is for another network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postInfo(tc.path, tc.ip, url.Values{"altcha": {tc.altcha}})
			if r.status != tc.status || r.message(t) != tc.msg {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	// The sign is checked before the proof-of-work is looked at (and spent).
	bad := "/info?path=%2Fa.txt&sign=" + url.QueryEscape("A"+e.keyring().Sign("/a.txt", 0)[1:]) + "&altcha=" + url.QueryEscape(good)
	if r := e.req("GET", bad, testIP, nil, nil); r.status != 401 || r.message(t) != "sign mismatch" {
		t.Fatalf("bad sign: %d %s", r.status, r.body)
	}
	if e.alist.TotalCalls() != 0 {
		t.Fatal("a refused solution reached AList")
	}

	// Accepted once, in a GET query or a POST form alike; a replay is refused.
	r := e.req("GET", e.infoLink("/a.txt")+"&altcha="+url.QueryEscape(good), testIP, nil, nil)
	u := r.infoURL(t)
	if !strings.HasPrefix(u, "https://dl1.example.com/a.txt?sign=") || decodeAdditional(t, u).FileSize != int64(len("hello /a.txt")) {
		t.Fatalf("url %s", u)
	}
	if r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {good}}); r.status != 403 || r.message(t) != "proof of work already used" {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}

	// Expiry: a fresh solution submitted after ALTCHA_TOKEN_EXPIRE.
	late := solve(t, e.challengeFor("/a.txt", testIP))
	e.clock.Add(3*time.Minute + time.Second)
	if r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {late}}); r.status != 403 || r.message(t) != "proof of work expired" {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
}

// TestProofOfWorkKeys: PAGE_SECRET signs the challenges; without it the key is derived from
// the signing keyring, so a challenge made under one key is refused under another.
func TestProofOfWorkKeys(t *testing.T) {
	e := powEnv(t, map[string]string{"PAGE_SECRET": "page-secret-1"})
	good := solve(t, e.challengeFor("/a.txt", testIP))
	if _, err := e.svc.Reload(mergeEnv(e.env, map[string]string{"PAGE_SECRET": ""})); err != nil {
		t.Fatal(err)
	}
	derived := e.svc.sec.Load().pageKey
	if string(derived) == "page-secret-1" || len(derived) < 32 {
		t.Fatalf("derived key %q", derived)
	}
	if r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {good}}); r.status != 403 || r.message(t) != "proof of work invalid" {
		t.Fatalf("old key accepted: %d %s", r.status, r.body)
	}
	good = solve(t, e.challengeFor("/a.txt", testIP))
	if r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {good}}); r.status != 200 {
		t.Fatalf("derived key: %d %s", r.status, r.body)
	}
}

func mergeEnv(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// TestProofOfWorkWithoutDatabase: the challenge binding still holds without a store (only
// the replay defence needs one).
func TestProofOfWorkWithoutDatabase(t *testing.T) {
	e := newEnv(t, map[string]string{"ALTCHA_ENABLED": "true", "ALTCHA_DIFFICULTY": "500"}, envOpt{noStore: true})
	e.alist.Put("/a.txt", &alisttest.File{Data: []byte("x")})
	good := solve(t, e.challengeFor("/a.txt", testIP))
	if r := e.postInfo("/a.txt", testIP, url.Values{"altcha": {good}}); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := e.postInfo("/a.txt", "198.51.100.1", url.Values{"altcha": {good}}); r.status != 403 {
		t.Fatalf("other subnet: %d %s", r.status, r.body)
	}
}
