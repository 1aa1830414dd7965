package config

import (
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// Upload is the XMPP upload service's configuration (cmd/upload, docs/upload.md). It does not
// embed Common: it talks to no AList, so ADDRESS, TOKEN, SIGN_SECRET and the path policy are not
// its settings; it reads the shared database, log, listener, client-IP, rate and ban variables
// under the same names and defaults.
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

	ClientIPHeader string `env:"CLIENT_IP_HEADER"`
	TrustedProxies string `env:"TRUSTED_PROXIES"`

	DBMode        string `env:"DB_MODE" envDefault:"sqlite"`
	SQLitePath    string `env:"SQLITE_PATH" envDefault:"./data/alist-edge.db"`
	DatabaseURL   string `env:"DATABASE_URL"`
	PGErrorHandle string `env:"PG_ERROR_HANDLE" envDefault:"fail-closed"`

	WindowTime   time.Duration `env:"WINDOW_TIME" envDefault:"24h"`
	RequestLimit int           `env:"IPSUBNET_WINDOWTIME_LIMIT" envDefault:"0"`
	BlockTime    time.Duration `env:"BLOCK_TIME" envDefault:"0"`
	IPv4Suffix   int           `env:"IPV4_SUFFIX" envDefault:"32"`
	IPv6Suffix   int           `env:"IPV6_SUFFIX" envDefault:"60"`

	BanAfterFails int           `env:"BAN_AFTER_FAILS" envDefault:"0"`
	BanWindow     time.Duration `env:"BAN_WINDOW" envDefault:"10m"`
	BanTime       time.Duration `env:"BAN_TIME" envDefault:"1h"`

	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	MaxConnections  int           `env:"MAX_CONNECTIONS" envDefault:"10000"`
	TLSCertFile     string        `env:"TLS_CERT_FILE"`
	TLSKeyFile      string        `env:"TLS_KEY_FILE"`
	UnixSocket      string        `env:"UNIX_SOCKET"`

	Parsed UploadDerived `env:"-"`
}

// UploadDerived is what the upload settings parse into.
type UploadDerived struct {
	Secrets    [][]byte // UPLOAD_SECRET items, current first
	Extensions []string // lower case, with the dot (".jpg"); empty: any
	ClientIP   *clientip.Extractor
	QuotaText  string // UPLOAD_QUOTA as written, echoed in 429 messages
	common     Common // what the runner reads (Base)
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
	// The shared settings are checked by the same rules as the other services': validate them
	// through a Common holding only what this service reads (ADDRESS set to a dummy folder,
	// a dummy key: neither is used here).
	c.Parsed.common = Common{
		Address: "file:///", SignSecret: "upload-service-has-no-signing-key",
		ClientIPHeader: c.ClientIPHeader, TrustedProxies: c.TrustedProxies,
		DBMode: c.DBMode, SQLitePath: c.SQLitePath, DatabaseURL: c.DatabaseURL, PGErrorHandle: c.PGErrorHandle,
		WindowTime: c.WindowTime, RequestLimit: c.RequestLimit, BlockTime: c.BlockTime,
		IPv4Suffix: c.IPv4Suffix, IPv6Suffix: c.IPv6Suffix,
		BanAfterFails: c.BanAfterFails, BanWindow: c.BanWindow, BanTime: c.BanTime,
		LogLevel: c.LogLevel, LogFormat: c.LogFormat, ShutdownTimeout: c.ShutdownTimeout,
		MaxConnections: c.MaxConnections, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile, UnixSocket: c.UnixSocket,
	}
	d := c.Parsed.common.validate(&p, proxyVocab, landingVocab)
	c.Parsed.ClientIP = d.ClientIP
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// What the shared runner reads.

func (c *Upload) Base() *Common                  { return &c.Parsed.common }
func (c *Upload) Listen() (public, admin string) { return c.ListenAddr, c.AdminAddr }
func (c *Upload) Warnings() []Warning            { return nil }
func (c *Upload) QuotaDB() quota.DB              { return c.Parsed.common.QuotaDB() }

// QuotaConfig maps the upload limits onto pkg/quota: the byte quota is the "total" quota of
// ScopeUpload, reserved with the request's Content-Length by the one check.
func (c *Upload) QuotaConfig() quota.Config {
	q := c.Parsed.common.quotaBase()
	if c.Quota > 0 {
		q.TotalEnabled = true
		q.TotalLimit = quota.Size{Bytes: int64(c.Quota)}
		q.TotalWindow = c.QuotaWindow
		q.TotalWindowText = FormatDuration(c.QuotaWindow)
		q.TotalLimitText = c.Parsed.QuotaText
	}
	return q
}
