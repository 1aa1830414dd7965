package config

import (
	"net/url"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Landing is the landing service's configuration.
type Landing struct {
	Common

	ListenAddr string `env:"LISTEN_ADDR" envDefault:":8081"`
	AdminAddr  string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9091"`
	IPv4Only   bool   `env:"IPV4_ONLY" envDefault:"false"`
	// WORKER_ADDRESS_DOWNLOAD: the proxies' public origins, comma separated; one is picked at random.
	WorkerAddressDownload string `env:"WORKER_ADDRESS_DOWNLOAD"`

	FastRedirect       bool          `env:"FAST_REDIRECT" envDefault:"false"`
	AutoRedirect       bool          `env:"AUTO_REDIRECT" envDefault:"false"`
	IfAppendAdditional bool          `env:"IF_APPEND_ADDITIONAL" envDefault:"true"`
	MinBandwidthMbps   float64       `env:"MIN_ALLOWED_BANDWIDTH" envDefault:"10"`
	MinDurationTime    time.Duration `env:"MIN_DURATION_TIME" envDefault:"1h"`
	SizeTTL            time.Duration `env:"SIZE_TTL" envDefault:"1h"`
	AlistTimeout       time.Duration `env:"ALIST_TIMEOUT" envDefault:"15s"`

	AltchaEnabled     bool          `env:"ALTCHA_ENABLED" envDefault:"false"`
	AltchaDifficulty  int           `env:"ALTCHA_DIFFICULTY" envDefault:"50000"`
	AltchaTokenExpire time.Duration `env:"ALTCHA_TOKEN_EXPIRE" envDefault:"3m"`
	PageSecret        string        `env:"PAGE_SECRET"`

	UnderAttack        bool   `env:"UNDER_ATTACK" envDefault:"false"`
	TurnstileSiteKey   string `env:"TURNSTILE_SITE_KEY"`
	TurnstileSecretKey string `env:"TURNSTILE_SECRET_KEY"`
	TurnstileVerifyURL string `env:"TURNSTILE_VERIFY_URL" envDefault:"https://challenges.cloudflare.com/turnstile/v0/siteverify"`

	// LandingIdentity: users file, forward auth, AList accounts, sessions (landing_identity.go).
	LandingIdentity

	// Parsed is what the settings parse into at load time (keys, policy, workers, ...).
	Parsed LandingDerived `env:"-"`
}

// LandingDerived is what the landing's settings parse into.
type LandingDerived struct {
	Derived
	Workers []string // WORKER_ADDRESS_DOWNLOAD entries, normalised
	IdentityDerived
}

// LoadLanding reads and validates the landing's configuration.
func LoadLanding(environ map[string]string) (*Landing, error) {
	var c Landing
	var p Problems
	parse(environ, &c, &p)
	c.Parsed.Derived = c.Common.validate(&p, landingVocab, proxyVocab)
	checkPlaceholder(&p, "PAGE_SECRET", c.PageSecret, false, "leave it unset (it is derived from the signing key) or set your own random key (openssl rand -hex 32)")
	checkPlaceholder(&p, "TURNSTILE_SITE_KEY", c.TurnstileSiteKey, false, "copy the site key from Cloudflare's dashboard (Turnstile → your widget)")
	checkPlaceholder(&p, "TURNSTILE_SECRET_KEY", c.TurnstileSecretKey, false, "copy the secret key from Cloudflare's dashboard (Turnstile → your widget)")
	c.Parsed.Workers = sign.SplitWorkerAddrs(c.WorkerAddressDownload)
	if len(c.Parsed.Workers) == 0 {
		p.Addf("WORKER_ADDRESS_DOWNLOAD is required: the proxy origin(s), comma separated, e.g. https://dl1.example.com,https://dl2.example.com")
	}
	for _, w := range c.Parsed.Workers {
		if _, err := sign.Origin(w); err != nil {
			p.Addf("WORKER_ADDRESS_DOWNLOAD: %v", err)
		}
	}
	if c.MinBandwidthMbps < 0 {
		p.Addf("MIN_ALLOWED_BANDWIDTH=%v; accepted: a positive number of Mbit/s", c.MinBandwidthMbps)
	}
	// A verify-pow/verify-both path action asks for the proof-of-work even with ALTCHA_ENABLED
	// off, so its settings are checked whenever any of them may be used.
	powUsed, turnUsed := c.AltchaEnabled, c.UnderAttack
	for _, a := range []string{c.BlacklistAction, c.WhitelistAction, c.ExceptAction} {
		a = strings.ToLower(a)
		powUsed = powUsed || strings.Contains(a, "verify-pow") || strings.Contains(a, "verify-both")
		turnUsed = turnUsed || strings.Contains(a, "verify-turn") || strings.Contains(a, "verify-both")
	}
	if powUsed {
		if c.AltchaDifficulty < 1 || c.AltchaDifficulty > 10_000_000 {
			p.Addf("ALTCHA_DIFFICULTY=%d; accepted: 1 to 10000000 (the largest number the browser may have to try)", c.AltchaDifficulty)
		}
		if c.AltchaTokenExpire <= 0 {
			p.Addf("ALTCHA_TOKEN_EXPIRE must be positive; accepted: %s", durationAccepted)
		}
	}
	if c.UnderAttack && (c.TurnstileSiteKey == "" || c.TurnstileSecretKey == "") {
		p.Addf("UNDER_ATTACK needs TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY")
	} else if turnUsed && (c.TurnstileSiteKey == "" || c.TurnstileSecretKey == "") {
		p.Addf("a verify-turn/verify-both path action needs TURNSTILE_SITE_KEY and TURNSTILE_SECRET_KEY")
	}
	if turnUsed {
		if u, err := url.Parse(c.TurnstileVerifyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("TURNSTILE_VERIFY_URL=%q; accepted: an http(s) URL (default Cloudflare's siteverify)", c.TurnstileVerifyURL)
		}
	}
	c.Parsed.IdentityDerived = c.validateIdentity(&p)
	if c.AlistTimeout <= 0 {
		p.Addf("ALIST_TIMEOUT must be positive; accepted: %s", durationAccepted)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// QuotaConfig maps the landing's limits onto pkg/quota.
func (c *Landing) QuotaConfig() quota.Config {
	q := c.quotaBase()
	q.SizeTTL = c.SizeTTL
	return q
}
