package landing

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/alist-edge/alist-edge/internal/webpage"
)

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

// pageData is the download page: the shared page (internal/webpage) plus the script's
// configuration.
type pageData struct {
	webpage.Data
	Config pageConfig
}

// Checks reports a pending bot check (the page needs JavaScript).
func (p *pageData) Checks() bool { return p.Config.Pow != nil || p.Config.Turnstile != nil }

// TurnstileScript says whether to load Cloudflare's widget.
func (p *pageData) TurnstileScript() bool { return p.Config.Turnstile != nil }

func (s *Service) newPage(r *http.Request, t *target) *pageData {
	lang := webpage.PickLang(r.Header.Get("Accept-Language"))
	tx := webpage.Texts[lang]
	pd := &pageData{Data: webpage.Data{Lang: webpage.LangTags[lang], T: tx, Name: baseName(t.decoded), Path: t.decoded,
		State: "checking", SizeText: tx["size_pending"], CSS: webpage.CSS, Script: webpage.Script}}
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

// renderPage writes the download page.
func (s *Service) renderPage(w http.ResponseWriter, pd *pageData) error {
	return webpage.Write(w, &pd.Data, pd, http.StatusOK, pd.TurnstileScript())
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
