package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// Handler serves the admin API (routes in Paths) behind the access rule of authenticate.
// State-changing requests from a browser on another origin are refused (CSRF): with no token
// on loopback, a web page would otherwise be able to revoke or unban.
func Handler(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Scope == "" {
		o.Scope = "proxy"
	}
	a := &api{o: o}
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin route (routes: "+strings.Join(Paths, ", ")+")")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, r.Method+" not allowed on "+r.URL.Path)
	})
	r.Get("/policy/explain", a.explain)
	r.Get("/usage", a.getUsage)
	r.Put("/usage", a.setUsage)
	r.Delete("/usage", a.resetUsage)
	r.Get("/blocks", listed(a, "blocks", "blocks", Store.Blocks))
	r.Delete("/blocks", a.unblock)
	r.Get("/revocations", listed(a, "revocations", "revocations", Store.Revocations))
	r.Post("/revocations", a.revoke)
	r.Delete("/revocations", a.unrevoke)
	r.Get("/sessions", a.sessions)
	r.Delete("/sessions", a.endSessions)

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin browser request refused")
	}))
	return csrf.Handler(authenticate(&o, r))
}

type api struct{ o Options }

// errorBody is every refusal: {"error": "...", "status": N}.
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{"internal error: answer not encodable", status})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{msg, status})
}

// fail answers an error from Explain, KeyFor or the Store: the caller's fault (*Error,
// ErrNotFound) as is; anything else is 500 (504 on a timeout) with the details in the log
// only, as database errors can carry connection details.
func (a *api) fail(w http.ResponseWriter, r *http.Request, op string, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
		writeError(w, e.Status, e.Message)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		a.o.Log.Warn("admin: "+op+" timed out", "err", err, "remote", r.RemoteAddr)
		writeError(w, http.StatusGatewayTimeout, op+": the store did not answer in time")
	default:
		a.o.Log.Error("admin: "+op+" failed", "err", err, "remote", r.RemoteAddr)
		writeError(w, http.StatusInternalServerError, op+" failed (details in the service log)")
	}
}

// changed logs one line per state change: what and who (the remote address; never a token).
func (a *api) changed(r *http.Request, op string, attrs ...any) {
	a.o.Log.Info("admin change", append([]any{"op", op, "remote", r.RemoteAddr}, attrs...)...)
}

// badParam is a 400 naming the parameter.
type badParam struct{ name, why string }

func (b badParam) Error() string { return fmt.Sprintf("parameter %q: %s", b.name, b.why) }

// query returns the URL's parameters after refusing any not in accepted (a misspelt filter
// silently ignored would answer a different question than the one asked) and any given
// twice unless repeatable.
func query(u *url.URL, repeatable []string, accepted ...string) (url.Values, error) {
	q := u.Query()
	for k, v := range q {
		if !slices.Contains(accepted, k) && !slices.Contains(repeatable, k) {
			return nil, badParam{k, "unknown (accepted: " + strings.Join(append(accepted, repeatable...), ", ") + ")"}
		}
		if len(v) > 1 && !slices.Contains(repeatable, k) {
			return nil, badParam{k, "given more than once"}
		}
	}
	return q, nil
}

// decodeBody reads a JSON body strictly. Requiring the JSON content type also makes a
// cross-site form post impossible (it would need a CORS preflight that is never granted).
func decodeBody(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return errors.New("body must be JSON (Content-Type: application/json)")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if dec.More() {
		return errors.New("body: more than one JSON value")
	}
	return nil
}

// listed answers a GET that takes no parameter with the store's list under key ({"blocks": [...]}).
func listed[T any](a *api, op, key string, fetch func(s Store, ctx context.Context, now time.Time) ([]T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := query(r.URL, nil); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if a.o.Store == nil {
			writeError(w, http.StatusNotImplemented, "no store configured")
			return
		}
		list, err := fetch(a.o.Store, r.Context(), a.o.Now())
		if err != nil {
			a.fail(w, r, op, err)
			return
		}
		if list == nil {
			list = []T{}
		}
		writeJSON(w, http.StatusOK, map[string][]T{key: list})
	}
}

var scopes = []string{"proxy", "landing", "upload"}

func (a *api) unblock(w http.ResponseWriter, r *http.Request) {
	q, err := query(r.URL, nil, "subnet", "scope")
	if err == nil && q.Get("scope") != "" && !slices.Contains(scopes, q.Get("scope")) {
		err = badParam{"scope", "one of " + strings.Join(scopes, ", ")}
	}
	var subnet string
	if err == nil {
		subnet, err = parseSubnet(q.Get("subnet"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if a.o.Store == nil {
		writeError(w, http.StatusNotImplemented, "no store configured")
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		scope = a.o.Scope
	}
	if err := a.o.Store.Unblock(r.Context(), scope, subnet); err != nil {
		a.fail(w, r, "unblock", err)
		return
	}
	a.changed(r, "unblock", "scope", scope, "subnet", subnet)
	writeJSON(w, http.StatusOK, struct {
		Scope  string `json:"scope"`
		Subnet string `json:"subnet"`
	}{scope, subnet})
}
