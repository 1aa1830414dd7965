package landing

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/alisttest"
)

// TestNotFound: a missing file and a directory are 404 "object not found" on both routes, from
// AList (whose fs/get says code 500 "failed get obj: object not found", or is_dir=true) and from
// a local folder alike, so download managers stop retrying (docs/contract.md §7). Other AList errors keep
// their code and AList's body.
func TestNotFound(t *testing.T) {
	fake := alisttest.New(testToken)
	t.Cleanup(fake.Close)
	fake.Put("/f.txt", &alisttest.File{Data: []byte("data")})
	fake.Hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/fs/get" {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body)) // the fake reads it again
		var req struct {
			Path string `json:"path"`
		}
		if json.Unmarshal(body, &req) != nil {
			return false
		}
		var answer string
		switch path.Clean(req.Path) { // AList cleans every path
		case "/dir":
			answer = `{"code":200,"message":"success","data":{"name":"dir","size":0,"is_dir":true,"modified":"2025-01-01T00:00:00Z"}}`
		case "/gone.txt":
			answer = `{"code":404,"message":"object not found","data":null}`
		case "/locked.txt":
			answer = `{"code":403,"message":"permission denied","data":null}`
		default:
			return false
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, answer)
		return true
	}
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "f.txt"), []byte("data"), 0o644))

	for _, origin := range []struct {
		name string
		vars map[string]string
		opt  envOpt
	}{
		{"alist", map[string]string{"FAST_REDIRECT": "true"}, envOpt{alist: fake}},
		{"local folder", map[string]string{"FAST_REDIRECT": "true", "ADDRESS": "file://" + root}, envOpt{}},
	} {
		e := newEnv(t, origin.vars, origin.opt)
		for _, tc := range []struct {
			path    string
			status  int
			message string
		}{
			{"/f.txt", 302, ""},
			{"/missing.txt", 404, "object not found"},
			{"/dir", 404, "object not found"},
			{"/dir/", 404, "object not found"},
			{"/", 404, "object not found"},
			{"/gone.txt", 404, "object not found"},
			{"/locked.txt", 403, "permission denied"},
		} {
			if origin.name == "local folder" && tc.path == "/locked.txt" {
				continue
			}
			r := e.get(e.link(tc.path))
			if r.status != tc.status || (tc.message != "" && r.message(t) != tc.message) {
				t.Errorf("%s file route %s: %d %s, want %d %q", origin.name, tc.path, r.status, r.body, tc.status, tc.message)
			}
			if tc.status == 302 {
				continue
			}
			if r := e.get(e.infoLink(tc.path)); r.status != tc.status || r.message(t) != tc.message {
				t.Errorf("%s /info %s: %d %s, want %d %q", origin.name, tc.path, r.status, r.body, tc.status, tc.message)
			}
			// A browser sees the 404 as the page's error state.
			if tc.status != 404 {
				continue
			}
			r = e.browse(e.link(tc.path))
			if r.status != tc.status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, "object not found") {
				t.Errorf("%s browser %s: %d %s", origin.name, tc.path, r.status, r.header.Get("Content-Type"))
			}
		}
		// A refused size is never cached.
		if sizeCachedFor(e, "/dir") {
			t.Errorf("%s: a directory's size was cached", origin.name)
		}
	}
}

// sizeCachedFor asks the store directly whether p's size is cached.
func sizeCachedFor(e *tenv, p string) bool {
	d, err := e.store.Check(e.t.Context(), storeReq(e, p, "192.0.2.201/32"))
	return err == nil && d.Size >= 0
}
