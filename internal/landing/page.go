package landing

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

//go:embed assets/page.html assets/page.css assets/page.js
var assets embed.FS

var (
	pageTmpl   = template.Must(template.ParseFS(assets, "assets/page.html"))
	pageCSS    = template.CSS(mustRead("assets/page.css"))
	pageScript = template.JS(mustRead("assets/page.js"))
)

func mustRead(name string) string {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// turnstileOrigin is the only third party the page ever loads from, and only with Turnstile on.
const turnstileOrigin = "https://challenges.cloudflare.com"

// pageConfig is handed to the page's script as JSON (html/template escapes it for the script
// context, so a file name can never close the script element).
type pageConfig struct {
	URL          string            `json:"url"`
	Path         string            `json:"path"` // percent-encoded, for /info
	Sign         string            `json:"sign"`
	Size         int64             `json:"size"`
	Pow          *Challenge        `json:"pow"`
	Turnstile    *turnstileConfig  `json:"turnstile"`
	AutoRedirect bool              `json:"autoRedirect"`
	T            map[string]string `json:"t"`
}

type pageError struct {
	Status  int
	Message string
	Text    string
}

type pageData struct {
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
	Error     *pageError
	CSS       template.CSS
	Script    template.JS
	Config    pageConfig
}

// Checks reports a pending bot check (the page needs JavaScript).
func (p *pageData) Checks() bool { return p.Config.Pow != nil || p.Config.Turnstile != nil }

// TurnstileScript says whether to load Cloudflare's widget.
func (p *pageData) TurnstileScript() bool { return p.Config.Turnstile != nil }

func (s *Service) newPage(r *http.Request, t *target) *pageData {
	lang := pickLang(r.Header.Get("Accept-Language"))
	tx := texts[lang]
	pd := &pageData{Lang: langTags[lang], T: tx, Name: baseName(t.decoded), Path: t.decoded, State: "checking",
		SizeText: tx["size_pending"], CSS: pageCSS, Script: pageScript}
	if i := strings.LastIndexByte(strings.TrimRight(t.decoded, "/"), '/'); i > 0 {
		pd.Dir = t.decoded[:i+1]
	}
	pd.Config = pageConfig{Path: t.encoded, Sign: t.sign, Size: -1, AutoRedirect: s.cfg.AutoRedirect, T: tx}
	return pd
}

func (p *pageData) setIssued(iss issued) {
	p.URL = iss.url
	p.State = "ready"
	p.Config.URL = iss.url
	p.Config.Size = iss.size
	p.SizeText = humanSize(iss.size)
	p.SizeTitle = groupDigits(iss.size) + " " + p.T["bytes"]
}

// renderPage writes the page with its security headers. The CSP allows only this response's
// inline script and style (by nonce), same-origin fetches (/info), Blob workers (the
// proof-of-work) and, with Turnstile on, Cloudflare's widget.
func (s *Service) renderPage(w http.ResponseWriter, pd *pageData) error {
	return s.writePage(w, pd, http.StatusOK)
}

func (s *Service) writePage(w http.ResponseWriter, pd *pageData, status int) error {
	var nb [18]byte
	_, _ = rand.Read(nb[:])
	pd.Nonce = base64.RawURLEncoding.EncodeToString(nb[:]) // no "+" or "/": html/template would entity-escape them
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pd); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy(pd.Nonce, pd.TurnstileScript()))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Language", pd.Lang)
	h.Add("Vary", "Accept-Language")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func contentSecurityPolicy(nonce string, turnstile bool) string {
	script, frame, connect := "'nonce-"+nonce+"'", "'none'", "'self'"
	if turnstile {
		script += " " + turnstileOrigin
		frame = turnstileOrigin
		connect += " " + turnstileOrigin
	}
	return "default-src 'none'; script-src " + script + "; style-src 'nonce-" + nonce + "'; img-src data:; connect-src " +
		connect + "; worker-src blob:; frame-src " + frame + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// renderError shows a refusal to a browser in plain words, with the status and the exact
// message underneath for whoever has to debug it.
func (s *Service) renderError(w http.ResponseWriter, r *http.Request, e *httpx.Error) error {
	lang := pickLang(r.Header.Get("Accept-Language"))
	tx := texts[lang]
	text := tx[errorKey(e.Status, e.Message)]
	text = strings.ReplaceAll(text, "{s}", strconv.Itoa(max(e.RetryAfter, 1)))
	pd := &pageData{Lang: langTags[lang], T: tx, State: "error", CSS: pageCSS, Script: pageScript,
		Error: &pageError{Status: e.Status, Message: e.Message, Text: text}}
	h := w.Header()
	httpx.SetCORS(h, r)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	return s.writePage(w, pd, e.Status)
}

// errorKey picks the plain-words explanation of a refusal (the page's script has the same
// mapping for /info answers).
func errorKey(status int, msg string) string {
	switch {
	case status == http.StatusUnauthorized:
		return "err_sign"
	case status == http.StatusTooManyRequests:
		return "err_rate"
	case status == http.StatusBadRequest:
		return "err_path"
	case status == http.StatusNotFound:
		return "err_notfound"
	case msg == "ipv6 access is prohibited":
		return "err_ipv6"
	case msg == "proof of work expired":
		return "err_pow_expired"
	case strings.HasPrefix(msg, "proof of work"):
		return "err_pow"
	case strings.HasPrefix(msg, "turnstile"):
		return "err_turn"
	case status == http.StatusForbidden:
		return "err_denied"
	}
	return "err_server"
}

// acceptsHTML: browsers ask for text/html on navigation; download managers and API clients
// do not (wget and curl send */*, aria2c */* plus metalink types), so they get the 302 or a
// JSON error instead of a page they would save as the file. text/html;q=0 is a refusal.
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			media, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(media), "text/html") {
				continue
			}
			if !zeroQ(params) {
				return true
			}
		}
	}
	return false
}

// zeroQ reports whether media-type parameters carry q=0 (q=0, q=0.0, q=0.000).
func zeroQ(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && f == 0
		}
	}
	return false
}

// pickLang chooses "zh" or "en" from Accept-Language by q-value (first wins a tie).
func pickLang(header string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		var l string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			l = "zh"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = "en"
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// humanSize writes a size 1024-based with three significant digits ("1.00 MB", "700 MB").
func humanSize(n int64) string {
	if n < 0 {
		return ""
	}
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KB", "MB", "GB", "TB", "PB", "EB"}
	f := float64(n) / 1024
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1024
		i++
	}
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f %s", f, units[i])
	case f < 100:
		return fmt.Sprintf("%.1f %s", f, units[i])
	}
	return fmt.Sprintf("%.0f %s", f, units[i])
}

// groupDigits writes 1048576 as 1,048,576.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

var langTags = map[string]string{"en": "en", "zh": "zh-CN"}

// texts are the page's words; the script gets the same map.
var texts = map[string]map[string]string{
	"en": {
		"download":        "Download",
		"size":            "Size",
		"size_pending":    "shown after the check",
		"bytes":           "bytes",
		"copy":            "Copy link",
		"copied":          "Link copied",
		"copy_failed":     "Could not copy the link automatically.",
		"checking":        "Checking your browser…",
		"checking_pct":    "Checking your browser… {p}%",
		"verify_turn":     "Please complete the check below.",
		"preparing":       "Preparing your download…",
		"ready":           "Your download is ready.",
		"redirecting":     "Starting your download…",
		"noscript":        "This download needs JavaScript for a short automatic check. Please enable JavaScript and reload this page.",
		"details":         "Details",
		"footer":          "Signed link checked by alist-edge",
		"err_title":       "This download is not available",
		"err_sign":        "This link is invalid or has expired. Go back to the file list and open the file again.",
		"err_denied":      "Downloading this file is not allowed.",
		"err_ipv6":        "Downloads are only available over IPv4. Please try again from another network.",
		"err_path":        "This link is damaged: the file name in it is not encoded correctly.",
		"err_rate":        "Too many downloads from your network. Please wait {s} seconds and try again.",
		"err_notfound":    "The file could not be found. It may have been moved or deleted.",
		"err_pow":         "The automatic browser check did not pass. Reload the page to try again.",
		"err_pow_expired": "The check took too long. Reload the page to try again.",
		"err_turn":        "The human verification did not pass. Reload the page to try again.",
		"err_server":      "The server could not prepare your download. Please try again later.",
		"err_network":     "Could not reach the server. Check your connection and try again.",
	},
	"zh": {
		"download":        "下载",
		"size":            "大小",
		"size_pending":    "验证后显示",
		"bytes":           "字节",
		"copy":            "复制链接",
		"copied":          "链接已复制",
		"copy_failed":     "无法自动复制链接。",
		"checking":        "正在验证浏览器…",
		"checking_pct":    "正在验证浏览器… {p}%",
		"verify_turn":     "请完成下方的人机验证。",
		"preparing":       "正在准备下载…",
		"ready":           "下载已就绪。",
		"redirecting":     "正在开始下载…",
		"noscript":        "此下载需要 JavaScript 进行一次简短的自动验证。请启用 JavaScript 后刷新本页。",
		"details":         "详细信息",
		"footer":          "签名链接由 alist-edge 校验",
		"err_title":       "无法下载此文件",
		"err_sign":        "此链接无效或已过期。请返回文件列表重新打开该文件。",
		"err_denied":      "不允许下载此文件。",
		"err_ipv6":        "仅支持通过 IPv4 下载。请换一个网络再试。",
		"err_path":        "此链接已损坏：其中的文件名编码不正确。",
		"err_rate":        "你所在网络的下载次数过多。请等待 {s} 秒后再试。",
		"err_notfound":    "找不到该文件，它可能已被移动或删除。",
		"err_pow":         "浏览器自动验证未通过。请刷新页面重试。",
		"err_pow_expired": "验证耗时过长。请刷新页面重试。",
		"err_turn":        "人机验证未通过。请刷新页面重试。",
		"err_server":      "服务器暂时无法准备下载，请稍后再试。",
		"err_network":     "无法连接服务器。请检查网络后重试。",
	},
}
