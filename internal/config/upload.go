package config

import (
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// Upload is the XMPP upload service's configuration (cmd/upload, docs/upload.md). It embeds
// Infra, not Common: it talks to no AList, so ADDRESS, TOKEN, SIGN_SECRET and the path policy are
// not its settings.
type Upload struct {
	ListenAddr string `env:"LISTEN_ADDR" envDefault:":8082"`
	AdminAddr  string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9092"`

	// UPLOAD_DIR: the folder files land in (an AList Local storage or the proxy's file:// origin).
	Dir string `env:"UPLOAD_DIR"`
	// UPLOAD_PREFIX: the URL path the slots live under; P is the path after it.
	Prefix string `env:"UPLOAD_PREFIX" envDefault:"/upload/"`
	// UPLOAD_SECRET: the secrets shared with the XMPP server, comma separated: the first is
	// current, any verifies (rotation without downtime).
	Secret     string   `env:"UPLOAD_SECRET"`
	MaxSize    ByteSize `env:"UPLOAD_MAX_SIZE" envDefault:"100MB"`
	Extensions string   `env:"UPLOAD_EXTENSIONS"`
	MinFree    ByteSize `env:"UPLOAD_MIN_FREE" envDefault:"1GB"`
	// FILE_TTL: files older than this (by their upload time in the database) are deleted; 0 keeps them.
	FileTTL time.Duration `env:"FILE_TTL" envDefault:"0"`
	// UPLOAD_QUOTA: bytes a subnet may upload per UPLOAD_QUOTA_WINDOW; empty is off.
	Quota       ByteSize      `env:"UPLOAD_QUOTA"`
	QuotaWindow time.Duration `env:"UPLOAD_QUOTA_WINDOW" envDefault:"24h"`

	// Infra: the database, client IP, rate, ban, log and listener settings every service reads,
	// under the same names and defaults.
	Infra

	Parsed UploadDerived `env:"-"`
}

// UploadDerived is what the upload settings parse into.
type UploadDerived struct {
	Secrets    [][]byte // UPLOAD_SECRET items, current first
	Extensions []string // lower case, with the dot (".jpg"); empty: any
	ClientIP   *clientip.Extractor
	QuotaText  string // UPLOAD_QUOTA as written, echoed in 429 messages
}

// LoadUpload reads and validates the upload service's configuration, every problem at once.
func LoadUpload(environ map[string]string) (*Upload, error) {
	var c Upload
	var p Problems
	parse(environ, &c, &p)
	if strings.TrimSpace(c.Dir) == "" {
		p.Addf("UPLOAD_DIR is required: the folder uploaded files are stored in")
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") || strings.Contains(c.Prefix, "..") {
		p.Addf("UPLOAD_PREFIX=%q; accepted: a path that starts and ends with / such as /upload/", c.Prefix)
	}
	items := splitList(c.Secret)
	if len(items) == 0 {
		p.Addf("UPLOAD_SECRET is required: the secret shared with the XMPP server (openssl rand -hex 32), comma separated for rotation")
	}
	checkPlaceholder(&p, "UPLOAD_SECRET", c.Secret, true, "set the same random secret as the XMPP server's http_upload_external_secret / http_file_share secret / external_secret (openssl rand -hex 32)")
	for _, s := range items {
		c.Parsed.Secrets = append(c.Parsed.Secrets, []byte(s))
	}
	if c.MaxSize <= 0 {
		p.Addf("UPLOAD_MAX_SIZE must be positive; accepted: %s", sizeAccepted)
	}
	if c.MinFree < 0 {
		p.Addf("UPLOAD_MIN_FREE must not be negative; accepted: %s", sizeAccepted)
	}
	for _, e := range splitList(strings.ToLower(c.Extensions)) {
		if !strings.HasPrefix(e, ".") {
			e = "." + e
		}
		if strings.ContainsAny(e[1:], "./\\") {
			p.Addf("UPLOAD_EXTENSIONS=%q: %q is not a file extension; accepted: a comma list such as jpg,png,mp4", c.Extensions, e)
			continue
		}
		c.Parsed.Extensions = append(c.Parsed.Extensions, e)
	}
	if c.FileTTL < 0 {
		p.Addf("FILE_TTL must not be negative; accepted: 0 (keep) or %s", durationAccepted)
	}
	c.Parsed.QuotaText = strings.TrimSpace(environ["UPLOAD_QUOTA"])
	if c.Quota < 0 || (c.Quota > 0 && c.QuotaWindow <= 0) {
		p.Addf("UPLOAD_QUOTA needs a positive UPLOAD_QUOTA_WINDOW; accepted: %s", durationAccepted)
	}
	c.Parsed.ClientIP, _ = c.Infra.validate(&p) // the shared settings, by the same rules as the other services'
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// What the shared runner reads.

func (c *Upload) Base() *Infra                   { return &c.Infra }
func (c *Upload) Listen() (public, admin string) { return c.ListenAddr, c.AdminAddr }
func (c *Upload) Warnings() []Warning            { return nil }

// QuotaConfig maps the upload limits onto pkg/quota: the byte quota is the "total" quota of
// ScopeUpload, reserved with the request's Content-Length by the one check.
func (c *Upload) QuotaConfig() quota.Config {
	q := c.quotaBase()
	if c.Quota > 0 {
		q.TotalEnabled = true
		q.TotalLimit = quota.Size{Bytes: int64(c.Quota)}
		q.TotalWindow = c.QuotaWindow
		q.TotalWindowText = FormatDuration(c.QuotaWindow)
		q.TotalLimitText = c.Parsed.QuotaText
	}
	return q
}
