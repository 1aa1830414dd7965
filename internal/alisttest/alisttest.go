// Package alisttest is a fake AList for tests: a real listener (httptest.NewServer) that speaks
// AList's API shapes, including its HTTP-200 error envelope, serves the files it links to with
// Range/HEAD/416 (http.ServeContent, as AList's local storage does), cleans every path it is
// given the way AList does (Clean), and counts every call so a test can prove a refused request
// never reached it.
package alisttest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	stdpath "path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// File is one file of the fake storage.
type File struct {
	Data []byte
	// Header is returned as data.header of /api/fs/link (sent back with the fetch).
	Header http.Header
	// LinkURL overrides the link (another server, a redirect, a missing file).
	LinkURL string
	ModTime time.Time
}

// Server is the fake.
type Server struct {
	*httptest.Server
	Token string

	mu    sync.Mutex
	files map[string]*File // by cleaned path
	paths []string         // API request paths as sent
	// Calls counts API calls by endpoint ("/api/fs/link", "/api/fs/get") and file fetches ("/d").
	calls sync.Map // string -> *atomic.Int64
	// LastHeaders is the headers of the last API call.
	lastHeaders atomic.Pointer[http.Header]
	// Hook, when set, may answer a request itself (fault injection); return true if it did.
	Hook func(w http.ResponseWriter, r *http.Request) bool

	users        map[string]string // name -> password, for /api/auth/login
	loginFailed  map[string]int    // client IP -> failed logins (AList's loginCache)
	loginTokenID int
}

// New starts a fake AList requiring token.
func New(token string) *Server {
	s := &Server{Token: token, files: map[string]*File{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Clean is AList's utils.FixAndCleanPath, which AList applies to every path it is given
// (/api/fs/get, /api/fs/link, /d/...): every `\` becomes `/`, a leading `/` is added, then
// path.Clean resolves "." and ".." and collapses "//". So "/pub/..\private/x" is
// "/private/x" to AList, whatever a policy matched on the path as written.
func Clean(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return stdpath.Clean(p)
}

// relative is AList's refusal of a relative path before cleaning (utils.JoinBasePath, in the
// v3 versions that look for "/.." with "/" only, so "..\" passes and is then cleaned away).
func relative(p string) bool {
	return p == ".." || strings.HasSuffix(p, "/..") || strings.HasPrefix(p, "../") || strings.Contains(p, "/../")
}

// Put adds or replaces a file at the decoded path p; it is stored where AList's cleaning of p
// leads (a request for p reaches it), so a name with a `\` lands in a sub-folder, as on AList.
func (s *Server) Put(p string, f *File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[Clean(p)] = f
}

// Paths are the paths the API calls asked for, as sent (before cleaning), in order.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// Calls is the number of requests to endpoint so far.
func (s *Server) Calls(endpoint string) int64 {
	v, ok := s.calls.Load(endpoint)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// TotalCalls is every request the fake answered.
func (s *Server) TotalCalls() int64 {
	var n int64
	s.calls.Range(func(_, v any) bool { n += v.(*atomic.Int64).Load(); return true })
	return n
}

// LastHeaders is the headers of the last API call (nil before any).
func (s *Server) LastHeaders() http.Header {
	if h := s.lastHeaders.Load(); h != nil {
		return *h
	}
	return nil
}

func (s *Server) count(endpoint string) {
	v, _ := s.calls.LoadOrStore(endpoint, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// envelope writes AList's answer: always HTTP 200, the outcome in code.
func envelope(w http.ResponseWriter, code int, message string, data any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": message, "data": data})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.Hook != nil && s.Hook(w, r) {
		return
	}
	switch {
	case r.URL.Path == "/api/fs/link" || r.URL.Path == "/api/fs/get":
		s.count(r.URL.Path)
		h := r.Header.Clone()
		s.lastHeaders.Store(&h)
		s.api(w, r)
	case r.URL.Path == "/api/auth/login":
		s.count(r.URL.Path)
		s.login(w, r)
	case strings.HasPrefix(r.URL.Path, "/d/"):
		s.count("/d")
		s.download(w, r)
	default:
		s.count("other")
		http.NotFound(w, r)
	}
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		envelope(w, 405, "method not allowed", nil)
		return
	}
	if r.Header.Get("Authorization") != s.Token {
		envelope(w, 401, "token is invalidated", nil)
		return
	}
	var req struct {
		Path string `json:"path"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		envelope(w, 400, "invalid request body", nil)
		return
	}
	s.mu.Lock()
	s.paths = append(s.paths, req.Path)
	s.mu.Unlock()
	if relative(req.Path) {
		envelope(w, 403, "using relative path is not allowed", nil)
		return
	}
	p := Clean(req.Path)
	s.mu.Lock()
	f, ok := s.files[p]
	s.mu.Unlock()
	if r.URL.Path == "/api/fs/get" {
		if !ok {
			envelope(w, 500, "failed get obj: object not found", nil)
			return
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		envelope(w, 200, "success", map[string]any{"name": name, "size": len(f.Data), "is_dir": false,
			"modified": f.ModTime.Format(time.RFC3339), "sign": "", "raw_url": "", "provider": "Local"})
		return
	}
	// /api/fs/link succeeds even for a missing file (local storage); the miss shows when the
	// URL is fetched, exactly like AList.
	link := s.URL + "/d" + (&url.URL{Path: p}).EscapedPath()
	var header http.Header
	if ok {
		if f.LinkURL != "" {
			link = f.LinkURL
		}
		header = f.Header
	}
	envelope(w, 200, "success", map[string]any{"url": link, "header": header})
}

// download serves /d/<path> like AList's local storage: the path cleaned, missing files
// answer HTTP 200 with a JSON error envelope, existing ones with Range support.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	p := Clean(strings.TrimPrefix(r.URL.Path, "/d"))
	s.mu.Lock()
	f, ok := s.files[p]
	s.mu.Unlock()
	if !ok {
		envelope(w, 500, "failed link: object not found", nil)
		return
	}
	for k, vs := range f.Header {
		if r.Header.Get(k) != vs[0] {
			envelope(w, 403, "missing link header "+k, nil)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", f.ModTime, bytes.NewReader(f.Data))
}
