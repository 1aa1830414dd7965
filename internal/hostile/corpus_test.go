package hostile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

// item is one corpus line of testdata/hostile/corpus.jsonl.
type item struct {
	Name    string      `json:"name"`
	Cat     string      `json:"cat"`
	Service string      `json:"service"` // proxy (default), local, landing
	Method  string      `json:"method"`  // default GET
	Target  string      `json:"target"`  // the request target exactly as sent (after expansion)
	Headers [][2]string `json:"headers"` // written as "k: v\r\n", after expansion
	NoIP    bool        `json:"noip"`    // do not add the default CF-Connecting-IP
	Raw     string      `json:"raw"`     // the whole request instead of method/target/headers
	Status  int         `json:"status"`
	// Message is the exact JSON error message; "" with Plain means Go's own plain-text answer
	// (docs/contract.md §3: acceptable for request lines net/http refuses before any handler).
	Message *string `json:"message"`
	Plain   bool    `json:"plain"`
	// Reach is how far the request may go: "none" (refused before the database and AList),
	// "db" (may run the one check, never AList), "upstream" (a valid link: may fetch).
	Reach string `json:"reach"`
}

func loadCorpus(t *testing.T) []item {
	t.Helper()
	f, err := os.Open("../../testdata/hostile/corpus.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []item
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	names := map[string]bool{}
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var it item
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&it); err != nil {
			t.Fatalf("corpus line %d: %v", ln, err)
		}
		if it.Name == "" || names[it.Name] {
			t.Fatalf("corpus line %d: missing or duplicate name %q", ln, it.Name)
		}
		names[it.Name] = true
		if it.Status == 0 || (it.Message == nil && !it.Plain && it.Status >= 400 && (it.Reach == "none" || it.Reach == "")) {
			t.Fatalf("corpus line %d (%s): status and message (or plain) are required", ln, it.Name)
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return items
}

func (s *svc) request(it item) []byte {
	if it.Raw != "" {
		return []byte(s.expand(it.Raw))
	}
	method := it.Method
	if method == "" {
		method = http.MethodGet
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: edge.test\r\n", method, s.expand(it.Target))
	hasIP := it.NoIP
	for _, h := range it.Headers {
		if strings.EqualFold(h[0], "CF-Connecting-IP") {
			hasIP = true
		}
	}
	if !hasIP {
		b.WriteString("CF-Connecting-IP: " + testIP + "\r\n")
	}
	for _, h := range it.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", s.expand(h[0]), s.expand(h[1]))
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.Bytes()
}

// TestHostileCorpus sends every corpus request over a raw TCP connection and checks the
// documented answer, that nothing panicked, that refused requests touched neither the
// database nor AList, and that goroutines and descriptors return to their baseline.
func TestHostileCorpus(t *testing.T) {
	items := loadCorpus(t)
	if len(items) < 150 {
		t.Fatalf("corpus has %d requests, want at least 150", len(items))
	}
	svcs := map[string]*svc{
		"proxy": newProxy(t, "proxy", false, map[string]string{
			"BLACKLIST_PREFIX": "/private", "BLACKLIST_ACTION": "block",
		}),
		"local": newProxy(t, "local", true, map[string]string{
			"WHITELIST_PREFIX": "/pub", "WHITELIST_ACTION": "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition",
		}),
		"landing": newLanding(t, map[string]string{"BLACKLIST_PREFIX": "/private", "BLACKLIST_ACTION": "block"}),
	}
	ok := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	for _, s := range svcs {
		s.put(t, "/ok.txt", ok)
		s.put(t, "/pub/ok.txt", ok)
		s.put(t, "/private/secret.txt", []byte("secret"))
	}
	// A file next to the local root that no request may reach.
	secret := svcs["local"].local + "-outside.txt"
	if err := os.WriteFile(secret, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(secret) })

	// Warm up: one valid request per service so pools exist before the baseline.
	for _, s := range svcs {
		target := "/ok.txt?" + s.expand("{{Q}}")
		if s.name == "landing" {
			target = "/ok.txt?sign=" + s.expand("{{LSIGN}}")
		}
		r := sendRaw(s.addr, s.request(item{Target: target}), false)
		if r.status != 200 && r.status != 302 {
			t.Fatalf("%s warm-up: %d %q %v", s.name, r.status, r.body, r.err)
		}
	}
	closeAll := func() {
		for _, s := range svcs {
			s.closeIdle()
		}
	}
	baseG, baseFD := settle(0, 0, 0, 300*time.Millisecond, closeAll)
	_ = baseFD

	byCat := map[string]int{}
	for _, it := range items {
		s := svcs[it.Service]
		if it.Service == "" {
			s = svcs["proxy"]
		}
		if s == nil {
			t.Fatalf("%s: unknown service %q", it.Name, it.Service)
		}
		byCat[it.Cat]++
		touches0, writes0, up0, checks0 := s.store.touches(), s.store.writes(), s.upstreamCalls(), s.store.checks.Load()
		meters0 := s.store.meters.Load()
		start := time.Now()
		r := sendRaw(s.addr, s.request(it), it.Method == http.MethodHead)
		took := time.Since(start)
		what := fmt.Sprintf("%s [%s] %q", it.Name, it.Cat, truncate(s.expand(it.Target), 120))
		if r.err != nil && r.status == 0 {
			t.Errorf("%s: no answer: %v", what, r.err)
			continue
		}
		if r.status != it.Status {
			t.Errorf("%s: status %d (body %q), want %d", what, r.status, truncate(string(r.body), 200), it.Status)
			continue
		}
		if it.Plain {
			if !r.plain {
				t.Errorf("%s: want net/http's plain-text answer, got %q", what, r.body)
			}
		} else if it.Message != nil {
			if it.Method == http.MethodHead {
				r.body = []byte(`{"code":` + strconv.Itoa(it.Status) + `,"message":` + string(sign.AppendJSString(nil, *it.Message)) + `}`)
			}
			want := `{"code":` + strconv.Itoa(it.Status) + `,"message":` + string(sign.AppendJSString(nil, *it.Message)) + `}`
			if string(r.body) != want {
				t.Errorf("%s: body %q, want %q", what, truncate(string(r.body), 200), want)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("%s: content-type %q", what, ct)
			}
		}
		if took > 5*time.Second {
			t.Errorf("%s: took %v", what, took)
		}
		switch it.Reach {
		case "none", "":
			if d := s.store.touches() - touches0; d != 0 {
				t.Errorf("%s: %d database accesses for a refused request", what, d)
			}
			if d := s.upstreamCalls() - up0; d != 0 {
				t.Errorf("%s: %d AList calls for a refused request", what, d)
			}
		case "db":
			// A served local file is metered (usage); nothing else may be written.
			if d := s.store.writes() - writes0 - (s.store.meters.Load() - meters0); d != 0 {
				t.Errorf("%s: %d database writes", what, d)
			}
			if d := s.store.checks.Load() - checks0; d > 1 {
				t.Errorf("%s: %d database round trips", what, d)
			}
			if d := s.upstreamCalls() - up0; d != 0 {
				t.Errorf("%s: %d AList calls", what, d)
			}
		case "upstream":
			if d := s.store.checks.Load() - checks0; d > 1 {
				t.Errorf("%s: %d database round trips", what, d)
			}
		default:
			t.Fatalf("%s: unknown reach %q", it.Name, it.Reach)
		}
	}
	for _, s := range svcs {
		if n := s.panics.Load(); n != 0 || strings.Contains(s.errLog.String(), "panic") {
			t.Errorf("%s: %d panics: %s", s.name, n, s.errLog.String())
		}
	}
	// Secrets never reach the log, even at debug level: not the token, not a signature.
	for _, s := range svcs {
		if s.logs == nil {
			continue
		}
		l := s.logs.String()
		if !strings.Contains(l, `"msg":"access"`) {
			t.Errorf("%s: no access lines logged", s.name)
		}
		for _, secret := range []string{testToken, "sign=", "Sign=", s.kr.Sign("/ok.txt", 0)[:20]} {
			if strings.Contains(l, secret) {
				t.Errorf("%s: the log contains %q", s.name, secret)
			}
		}
	}
	g, fd := settle(baseG, baseFD, 0, 5*time.Second, closeAll)
	if g > baseG || fd > baseFD {
		t.Errorf("leak: goroutines %d → %d, fds %d → %d\n%s", baseG, g, baseFD, fd, stacks())
	}
	t.Logf("%d requests; by category %v; goroutines %d → %d, fds %d → %d", len(items), byCat, baseG, g, baseFD, fd)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}
