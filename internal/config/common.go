package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Common is what both services read. Field comments are the reference; .env.example and the
// README's table must list every variable (a test checks).
type Common struct {
	// ADDRESS is AList's base URL (https://alist.example.com) or file:///dir to serve a folder.
	Address string `env:"ADDRESS"`
	// TOKEN is the AList admin token (API calls; also the signing key when SIGN_SECRET is empty).
	Token string `env:"TOKEN"`
	// SIGN_SECRET: signing keys, comma separated; the first signs, any verifies.
	SignSecret string `env:"SIGN_SECRET"`
	// VERIFY_HEADER / VERIFY_SECRET: extra header pairs sent to AList (equal-length comma lists).
	VerifyHeader string `env:"VERIFY_HEADER"`
	VerifySecret string `env:"VERIFY_SECRET"`

	BlacklistPrefix string `env:"BLACKLIST_PREFIX"`
	BlacklistAction string `env:"BLACKLIST_ACTION"`
	WhitelistPrefix string `env:"WHITELIST_PREFIX"`
	WhitelistAction string `env:"WHITELIST_ACTION"`
	ExceptPrefix    string `env:"EXCEPT_PREFIX"`
	ExceptAction    string `env:"EXCEPT_ACTION"`
	// ADMIN_TOKEN guards the admin API (docs/admin.md): a bearer token; without one the API
	// answers only on a loopback or unix-socket ADMIN_ADDR.
	AdminToken string `env:"ADMIN_TOKEN"`
	// POLICY_FILE: a TOML policy (docs/policy.md): rules over named matchers, quotas and rates.
	// Its rules follow the ones the *_PREFIX/*_ACTION lists compile into; re-read on SIGHUP.
	PolicyFile string `env:"POLICY_FILE"`

	// Infra: the listeners, database, client IP, rate, ban and log settings every service reads.
	Infra
}

// Infra is what every service reads, the upload service included: client IP, database, request
// rate, auto-ban, logs, shutdown and the public listener. Field comments are the reference.
type Infra struct {
	ClientIPHeader string `env:"CLIENT_IP_HEADER"`
	TrustedProxies string `env:"TRUSTED_PROXIES"`

	DBMode        string `env:"DB_MODE" envDefault:"sqlite"`
	SQLitePath    string `env:"SQLITE_PATH" envDefault:"./data/alist-edge.db"`
	DatabaseURL   string `env:"DATABASE_URL"`
	PGErrorHandle string `env:"PG_ERROR_HANDLE" envDefault:"fail-closed"`

	// Request rate per subnet (docs/contract.md §8). IPSUBNET_WINDOWTIME_LIMIT 0 = off.
	WindowTime   time.Duration `env:"WINDOW_TIME" envDefault:"24h"`
	RequestLimit int           `env:"IPSUBNET_WINDOWTIME_LIMIT" envDefault:"0"`
	BlockTime    time.Duration `env:"BLOCK_TIME" envDefault:"0"`
	IPv4Suffix   int           `env:"IPV4_SUFFIX" envDefault:"32"`
	IPv6Suffix   int           `env:"IPV6_SUFFIX" envDefault:"60"`

	// Auto-ban after repeated signature failures; BAN_AFTER_FAILS 0 = off.
	BanAfterFails int           `env:"BAN_AFTER_FAILS" envDefault:"0"`
	BanWindow     time.Duration `env:"BAN_WINDOW" envDefault:"10m"`
	BanTime       time.Duration `env:"BAN_TIME" envDefault:"1h"`

	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// MAX_CONNECTIONS caps the public listener's open connections; past it, new connections
	// wait in the kernel's accept queue until one closes. 0 = no cap.
	MaxConnections int `env:"MAX_CONNECTIONS" envDefault:"10000"`

	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	UnixSocket  string `env:"UNIX_SOCKET"`
}

// Derived holds what Common parses into at validation time, so services never re-parse.
type Derived struct {
	Keyring *sign.Keyring
	// Policy is the effective policy compiled for this service: the env lists' rules, then
	// POLICY_FILE's; PolicyDoc is the same as written (-print-policy).
	Policy        *policy.Engine
	PolicyDoc     *policy.Document
	ClientIP      *clientip.Extractor
	Trusted       clientip.Prefixes
	VerifyHeaders [][2]string
	LocalRoot     string // ADDRESS=file:///dir
	AlistURL      string // ADDRESS=http(s)://..., no trailing slash
	// Warnings are logged once at start-up and printed by -check-config (the other service's
	// action names this one ignores).
	Warnings []Warning
}

// validate checks Common and builds Derived; own is the service's action vocabulary, other
// the other service's (its names are ignored, see actions.go).
func (c *Common) validate(p *Problems, own, other vocabulary) Derived {
	var d Derived
	switch addr := strings.TrimSpace(c.Address); {
	case addr == "":
		p.Addf("ADDRESS is required: AList's base URL (https://alist.example.com) or file:///path/to/folder")
	case strings.HasPrefix(addr, "file://"):
		u, err := url.Parse(addr)
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			p.Addf("ADDRESS=%q: a local folder is written file:///absolute/path", addr)
		} else {
			d.LocalRoot = u.Path
		}
	default:
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("ADDRESS=%q: not an http(s) URL or file:/// folder", addr)
		} else {
			d.AlistURL = strings.TrimRight(addr, "/")
		}
	}
	checkPlaceholder(p, "TOKEN", c.Token, false, "set AList's admin token (AList: Settings → Other → Token)")
	checkPlaceholder(p, "SIGN_SECRET", c.SignSecret, true, "leave it unset to sign with TOKEN (AList's own links verify only with AList's key, its token), or set your own random key (openssl rand -hex 32)")
	checkPlaceholder(p, "ADMIN_TOKEN", c.AdminToken, false, "set a random token (openssl rand -hex 32), or leave it empty to serve the admin API on a loopback ADMIN_ADDR only")
	checkPlaceholder(p, "VERIFY_SECRET", c.VerifySecret, true, "set the value your AList's front end expects in the VERIFY_HEADER header")
	kr, err := sign.NewKeyring(c.SignSecret, c.Token)
	if err != nil {
		p.Addf("SIGN_SECRET/TOKEN: at least one must be set (the signing key): in front of AList set TOKEN to AList's admin token (AList signs its links with it); for a file:// folder set SIGN_SECRET (openssl rand -hex 32)")
	}
	d.Keyring = kr
	if d.AlistURL != "" && c.Token == "" {
		p.Addf("TOKEN is required with an AList ADDRESS (the AList admin token)")
	}
	hs, ss := splitList(c.VerifyHeader), splitList(c.VerifySecret)
	if len(hs) != len(ss) {
		p.Addf("VERIFY_HEADER/VERIFY_SECRET: %d header(s) but %d secret(s); give equal-length comma lists", len(hs), len(ss))
	} else {
		for i := range hs {
			d.VerifyHeaders = append(d.VerifyHeaders, [2]string{hs[i], ss[i]})
		}
	}
	lists := policy.Lists{
		BlacklistPrefix: c.BlacklistPrefix, BlacklistAction: c.BlacklistAction,
		WhitelistPrefix: c.WhitelistPrefix, WhitelistAction: c.WhitelistAction,
		ExceptPrefix: c.ExceptPrefix, ExceptAction: c.ExceptAction,
	}
	d.Warnings = shareLists(&lists, own, other)
	d.PolicyDoc, d.Policy = c.loadPolicy(p, lists, own)
	d.ClientIP, d.Trusted = c.Infra.validate(p)
	return d
}

// validate checks Infra (every problem into p) and returns the client-IP extractor and the
// trusted proxies it parses into.
func (c *Infra) validate(p *Problems) (*clientip.Extractor, clientip.Prefixes) {
	if c.DatabaseURL != "" {
		checkDatabaseURL(p, c.DatabaseURL)
	}
	if c.MaxConnections < 0 {
		p.Addf("MAX_CONNECTIONS=%d; accepted: 0 (no cap) or a positive number of connections", c.MaxConnections)
	}
	trusted, err := clientip.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		p.Addf("TRUSTED_PROXIES=%q: %v; accepted: comma separated CIDRs or addresses", c.TrustedProxies, err)
	}
	ex, err := clientip.New(c.ClientIPHeader, trusted)
	if err != nil {
		p.Addf("CLIENT_IP_HEADER=%q: %v", c.ClientIPHeader, err)
	} else if c.ClientIPHeader != "" && len(trusted) == 0 && c.UnixSocket == "" {
		p.Addf("CLIENT_IP_HEADER=%q needs TRUSTED_PROXIES (or UNIX_SOCKET): the header is only believed from those peers", c.ClientIPHeader)
	}

	switch c.DBMode {
	case "sqlite":
		if strings.TrimSpace(c.SQLitePath) == "" {
			p.Addf("SQLITE_PATH is empty; accepted: a file path such as ./data/alist-edge.db")
		}
	case "postgres":
		if c.DatabaseURL == "" {
			p.Addf("DATABASE_URL is required with DB_MODE=postgres (postgres://user:pass@host/db)")
		}
	case "d1", "d1-rest":
		p.Addf("DB_MODE=%q is Cloudflare D1, which only exists inside Workers; accepted: sqlite (one instance, the default) or postgres (several replicas)", c.DBMode)
	case "custom-pg-rest":
		p.Addf("DB_MODE=%q (PostgREST) is not supported; accepted: postgres with DATABASE_URL pointing at the database itself, or sqlite", c.DBMode)
	default:
		p.Addf("DB_MODE=%q; accepted: sqlite or postgres", c.DBMode)
	}
	if c.PGErrorHandle != "fail-closed" && c.PGErrorHandle != "fail-open" {
		p.Addf("PG_ERROR_HANDLE=%q; accepted: fail-closed or fail-open", c.PGErrorHandle)
	}
	if c.RequestLimit < 0 {
		p.Addf("IPSUBNET_WINDOWTIME_LIMIT=%d; accepted: 0 (off) or a positive number of requests", c.RequestLimit)
	}
	if c.RequestLimit > 0 && c.WindowTime <= 0 {
		p.Addf("WINDOW_TIME must be positive when IPSUBNET_WINDOWTIME_LIMIT is set")
	}
	if c.IPv4Suffix < 1 || c.IPv4Suffix > 32 {
		p.Addf("IPV4_SUFFIX=%d; accepted: 1 to 32", c.IPv4Suffix)
	}
	if c.IPv6Suffix < 1 || c.IPv6Suffix > 128 {
		p.Addf("IPV6_SUFFIX=%d; accepted: 1 to 128", c.IPv6Suffix)
	}
	if c.BanAfterFails < 0 {
		p.Addf("BAN_AFTER_FAILS=%d; accepted: 0 (off) or a positive count", c.BanAfterFails)
	}
	if c.BanAfterFails > 0 && (c.BanWindow <= 0 || c.BanTime <= 0) {
		p.Addf("BAN_WINDOW and BAN_TIME must be positive when BAN_AFTER_FAILS is set")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		p.Addf("LOG_LEVEL=%q; accepted: debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		p.Addf("LOG_FORMAT=%q; accepted: json or text", c.LogFormat)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.Addf("TLS_CERT_FILE and TLS_KEY_FILE must be set together")
	}
	return ex, trusted
}

// QuotaDB is the database selection for pkg/quota.
func (c *Infra) QuotaDB() quota.DB {
	return quota.DB{Mode: c.DBMode, SQLitePath: c.SQLitePath, DatabaseURL: c.DatabaseURL}
}

// quotaBase fills the limits every service shares.
func (c *Infra) quotaBase() quota.Config {
	return quota.Config{
		WindowTime:    c.WindowTime,
		RequestLimit:  c.RequestLimit,
		BlockTime:     c.BlockTime,
		WindowText:    FormatDuration(c.WindowTime),
		BanAfterFails: c.BanAfterFails,
		BanWindow:     c.BanWindow,
		BanTime:       c.BanTime,
		FailOpen:      c.PGErrorHandle == "fail-open",
	}
}

// FormatDuration writes d the way an operator would ("10m", "24h", "1d"), for messages.
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
