package landing

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alisttest"
	"github.com/alist-edge/alist-edge/internal/vectors"
)

// stripOrigin turns a vector's https://landing.example.com/... into the path and query.
func stripOrigin(t *testing.T, raw string) string {
	t.Helper()
	i := strings.Index(raw, "://")
	j := strings.IndexByte(raw[i+3:], '/')
	if i < 0 || j < 0 {
		t.Fatalf("bad vector URL %q", raw)
	}
	return raw[i+3+j:]
}

// vectorAlist fakes AList holding the case's file. Sizes past a few MiB are answered by a hook
// that writes the size without holding the bytes (123456789012 would not fit in memory); it
// checks the token and the path like the fake does, and is counted.
func vectorAlist(t *testing.T, pc *vectors.Positive) (*alisttest.Server, func() int64) {
	fake := alisttest.New(pc.AlistToken())
	t.Cleanup(fake.Close)
	var hooked atomic.Int64
	if pc.FileSize <= 4<<20 {
		fake.Put(pc.Path, &alisttest.File{Data: make([]byte, pc.FileSize)})
	} else {
		fake.Hook = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/api/fs/get" {
				return false
			}
			hooked.Add(1)
			var body struct {
				Path string `json:"path"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			if r.Header.Get("Authorization") != pc.AlistToken() || body.Path != pc.Path {
				_, _ = w.Write([]byte(`{"code":500,"message":"failed get obj: object not found","data":null}`))
				return true
			}
			_, _ = w.Write([]byte(`{"code":200,"message":"success","data":{"name":"f","size":` +
				strconv.FormatInt(pc.FileSize, 10) + `,"is_dir":false}}`))
			return true
		}
	}
	return fake, func() int64 { return fake.Calls("/api/fs/get") + hooked.Load() }
}

func vectorEnv(t *testing.T, pc *vectors.Positive) (map[string]string, envOpt, func() int64) {
	fake, calls := vectorAlist(t, pc)
	vars := map[string]string{
		"ADDRESS":                 fake.URL,
		"TOKEN":                   pc.AlistToken(),
		"SIGN_SECRET":             pc.EnvSignSecret,
		"WORKER_ADDRESS_DOWNLOAD": pc.WorkerAddressDownload,
		"MIN_DURATION_TIME":       strconv.FormatInt(pc.MinDurationS, 10),
		"MIN_ALLOWED_BANDWIDTH":   strconv.FormatFloat(pc.MinBandwidthBytesPerS*8/1e6, 'f', -1, 64),
		"FAST_REDIRECT":           "true",
	}
	for k, v := range pc.LandingEnv {
		vars[k] = v
	}
	o := envOpt{alist: fake, now: pc.Now}
	if pc.MathRandom != nil {
		r := *pc.MathRandom
		o.random = func() float64 { return r }
	} else {
		o.random = func() float64 { return 0 }
	}
	return vars, o, calls
}

// TestPositiveVectors: the fast redirect's Location and /info's URL equal the original's
// download_url byte for byte, with exactly the AList calls the original made.
func TestPositiveVectors(t *testing.T) {
	vf := vectors.Load(t)
	for i := range vf.Positive {
		pc := &vf.Positive[i]
		for _, route := range []string{"redirect", "info"} {
			t.Run(pc.Name+"/"+route, func(t *testing.T) {
				t.Parallel()
				vars, o, calls := vectorEnv(t, pc)
				e := newEnv(t, vars, o)
				var got string
				if route == "redirect" {
					r := e.req("GET", stripOrigin(t, pc.LandingRequestURL), pc.IP, nil, nil)
					if r.status != http.StatusFound {
						t.Fatalf("status %d %s", r.status, r.body)
					}
					got = r.header.Get("Location")
				} else {
					r := e.req("GET", stripOrigin(t, pc.InfoRequestURL), pc.IP, nil, nil)
					if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json;charset=UTF-8" {
						t.Fatalf("status %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
					}
					got = r.infoURL(t)
				}
				if got != pc.DownloadURL {
					t.Fatalf("download URL\n got %s\nwant %s", got, pc.DownloadURL)
				}
				if n := calls(); n != int64(pc.AlistFsGetCalls) {
					t.Fatalf("AList /api/fs/get calls: %d, want %d", n, pc.AlistFsGetCalls)
				}
				if pc.FileSize <= 4<<20 && pc.IP != "" {
					if h := e.alist.LastHeaders(); h.Get("CF-Connecting-IP-WORKERS") != pc.IP || h.Get("Authorization") != pc.AlistToken() {
						t.Fatalf("AList call headers: %v", h)
					}
				}
			})
		}
	}
}

// TestNegativeVectors: every landing refusal of the original, on the file route (fast
// redirect) and on /info; IPV4_ONLY applies to both routes (docs/contract.md §5 differs).
func TestNegativeVectors(t *testing.T) {
	vf := vectors.Load(t)
	n := 0
	for i := range vf.Negative {
		nc := &vf.Negative[i]
		if nc.IsProxy() {
			continue
		}
		if !strings.HasPrefix(nc.Target, "landing") {
			t.Fatalf("%s: unknown target %q", nc.Name, nc.Target)
		}
		n++
		status, msg := nc.Expected()
		pq := stripOrigin(t, nc.RequestURL)
		var file, info string
		if p, ok := strings.CutPrefix(pq, "/info?"); ok {
			info = pq
			q, _ := url.ParseQuery(p)
			file = q.Get("path") + "?sign=" + url.QueryEscape(q.Get("sign"))
		} else {
			file = pq
			p, rq, _ := strings.Cut(pq, "?")
			q, _ := url.ParseQuery(rq)
			info = "/info?path=" + url.QueryEscape(p)
			if q.Has("sign") {
				info += "&sign=" + url.QueryEscape(q.Get("sign"))
			}
		}
		for route, target := range map[string]string{"file": file, "info": info} {
			t.Run(nc.Name+"/"+route, func(t *testing.T) {
				t.Parallel()
				vars := map[string]string{"TOKEN": nc.Token, "FAST_REDIRECT": "true"}
				for k, v := range nc.LandingEnv {
					vars[k] = v
				}
				e := newEnv(t, vars, envOpt{now: nc.Now})
				e.alist.Put("/file.txt", &alisttest.File{Data: []byte("x")})
				r := e.req("GET", target, nc.IP, nil, nil)
				if r.status != status {
					t.Fatalf("%s: status %d, want %d: %s", target, r.status, status, r.body)
				}
				// Go's server refuses a malformed request target itself, in plain text (docs/contract.md §3).
				if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || route == "info" {
					if got := r.message(t); got != msg {
						t.Fatalf("message %q, want %q", got, msg)
					}
				}
				if c := e.alist.TotalCalls(); c != 0 {
					t.Fatalf("a refused request reached AList (%d calls)", c)
				}
			})
		}
	}
	if n < 8 {
		t.Fatalf("only %d landing cases in the vectors", n)
	}
}
