// Package webpage is the one self-contained HTML page both services show a person: the
// landing's download page and, for either service, an error page in the same style and in the
// visitor's language (en/zh). Download managers and API clients never see it: AcceptsHTML
// decides, and they get JSON.
package webpage

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

//go:embed assets/page.html assets/page.css assets/page.js
var assets embed.FS

var (
	tmpl = template.Must(template.ParseFS(assets, "assets/page.html"))
	// CSS and Script are the page's inline style and the landing's script.
	CSS    = template.CSS(mustRead("assets/page.css"))
	Script = template.JS(mustRead("assets/page.js"))
)

func mustRead(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TurnstileOrigin is the only third party the page ever loads from, and only with Turnstile on.
const TurnstileOrigin = "https://challenges.cloudflare.com"

// Error is what the error state of the page shows.
type Error struct {
	Status  int
	Message string // the exact refusal message, for whoever debugs it
	Text    string // the plain-words explanation
}

// Data is what the template reads. The landing embeds it in its own page type, which adds the
// script's configuration (Config) and the bot checks (Checks, TurnstileScript).
type Data struct {
	Lang      string
	T         map[string]string
	Nonce     string
	Name      string
	Dir       string
	Path      string
	SizeText  string
	SizeTitle string
	URL       string
	State     string
	Error     *Error
	// Login shows the sign-in form instead of the download (the policy wants an identity).
	Login *Login
	// Who is the signed-in visitor, shown with a log-out button; nil for anonymous.
	Who *Who
	// Usage are the visitor's quota lines ("members: 3.20 GB of 10.0 GB used today, …").
	Usage  []string
	CSS    template.CSS
	Script template.JS
}

// Login is the sign-in form: where to go back to after it, the name to fill in again and the
// message of a failed attempt.
type Login struct {
	Back, Name, Error string
}

// Who is the signed-in line: its text ("Signed in as alice (members)") and where the log-out
// form goes back to.
type Who struct {
	Text, Back string
}

// Forms reports a page that posts to its own origin (sign in, log out): its CSP allows
// form-action 'self', and its referrer policy is same-origin so that the browser sends the
// Origin the landing checks. Other pages keep no-referrer and form-action 'none'.
func (d *Data) Forms() bool { return d.Login != nil || d.Who != nil }

// ReferrerPolicy is the page's referrer policy (see Forms). same-origin still sends nothing to
// the download proxy, another origin.
func (d *Data) ReferrerPolicy() string {
	if d.Forms() {
		return "same-origin"
	}
	return "no-referrer"
}

// errorPage is the page in its error state: no script, no checks.
type errorPage struct {
	Data
	Checks, TurnstileScript bool
	Config                  struct{}
}

// Write renders page (a *Data, or a type embedding one as d) with its security headers and
// status. The CSP allows only this response's inline script and style (by nonce), same-origin
// fetches (/info), Blob workers (the proof-of-work) and, with turnstile, Cloudflare's widget.
func Write(w http.ResponseWriter, d *Data, page any, status int, turnstile bool) error {
	var nb [18]byte
	_, _ = rand.Read(nb[:])
	d.Nonce = base64.RawURLEncoding.EncodeToString(nb[:]) // no "+" or "/": html/template would entity-escape them
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	csp := ContentSecurityPolicy(d.Nonce, turnstile)
	if d.Forms() {
		csp = strings.Replace(csp, "form-action 'none'", "form-action 'self'", 1)
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", d.ReferrerPolicy())
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Language", d.Lang)
	h.Add("Vary", "Accept-Language")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// ContentSecurityPolicy is the page's CSP for one response's nonce.
func ContentSecurityPolicy(nonce string, turnstile bool) string {
	script, frame, connect := "'nonce-"+nonce+"'", "'none'", "'self'"
	if turnstile {
		script += " " + TurnstileOrigin
		frame = TurnstileOrigin
		connect += " " + TurnstileOrigin
	}
	return "default-src 'none'; script-src " + script + "; style-src 'nonce-" + nonce + "'; img-src data:; connect-src " +
		connect + "; worker-src blob:; frame-src " + frame + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// WriteError shows a refusal to a browser in plain words, with the status and the exact
// message underneath, and the same CORS and Retry-After headers as the JSON answer.
func WriteError(w http.ResponseWriter, r *http.Request, e *httpx.Error) error {
	lang := PickLang(r.Header.Get("Accept-Language"))
	tx := Texts[lang]
	text := strings.ReplaceAll(tx[errorKey(e.Status, e.Message)], "{s}", strconv.Itoa(max(e.RetryAfter, 1)))
	p := &errorPage{Data: Data{Lang: LangTags[lang], T: tx, State: "error", CSS: CSS,
		Error: &Error{Status: e.Status, Message: e.Message, Text: text}}}
	h := w.Header()
	httpx.SetCORS(h, r)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	return Write(w, &p.Data, p, e.Status, false)
}

// Answer is the one place either service turns a refusal into an answer: the page in its error
// state for a browser's navigation (html: a GET whose Accept names text/html), the JSON of the
// contract (docs/contract.md §5) for everything else, download managers and scripts included.
func Answer(w http.ResponseWriter, r *http.Request, e *httpx.Error, html bool) {
	if html {
		if err := WriteError(w, r, e); err == nil {
			return
		}
	}
	httpx.WriteError(w, r, e)
}

// WantsPage reports whether r is a browser's navigation that should get the page, not JSON.
func WantsPage(r *http.Request) bool { return r.Method == http.MethodGet && AcceptsHTML(r) }
