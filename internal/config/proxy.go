package config

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/clientip"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// Proxy is the download proxy's configuration.
type Proxy struct {
	Common

	ListenAddr string `env:"LISTEN_ADDR" envDefault:":8080"`
	AdminAddr  string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9090"`
	IPv4Only   bool   `env:"IPV4_ONLY" envDefault:"true"`
	// WORKER_ADDRESS is this proxy's public origin as the landing writes it into workerSign.
	WorkerAddress string `env:"WORKER_ADDRESS"`

	SignCheck               bool `env:"SIGN_CHECK" envDefault:"true"`
	HashCheck               bool `env:"HASH_CHECK" envDefault:"true"`
	WorkerCheck             bool `env:"WORKER_CHECK" envDefault:"true"`
	IPCheck                 bool `env:"IP_CHECK" envDefault:"true"`
	AdditionCheck           bool `env:"ADDITION_CHECK" envDefault:"true"`
	AdditionExpireTimeCheck bool `env:"ADDITION_EXPIRETIME_CHECK" envDefault:"true"`

	AllowedIPs string `env:"ALLOWED_IPS"`
	BlockedIPs string `env:"BLOCKED_IPS"`

	QuotaTotalEnabled   bool          `env:"QUOTA_LIMIT_TOTAL_ENABLED" envDefault:"false"`
	BandwidthLimit      ByteSize      `env:"IPSUBNET_BANDWIDTH_LIMIT"`
	BandwidthWindow     time.Duration `env:"BANDWIDTH_WINDOW_TIME_TOTAL" envDefault:"24h"`
	QuotaFileEnabled    bool          `env:"QUOTA_LIMIT_FILEPATH_ENABLED" envDefault:"false"`
	FileBandwidthLimit  string        `env:"IPSUBNET_FILEPATH_BANDWIDTH_LIMIT"`
	FileBandwidthWindow time.Duration `env:"BANDWIDTH_WINDOW_TIME_FILEPATH" envDefault:"24h"`
	BandwidthBlockTime  time.Duration `env:"BANDWIDTH_BLOCK_TIME" envDefault:"10m"`

	LinkTTL time.Duration `env:"LINK_TTL" envDefault:"30m"`

	ThrottleHostnames string        `env:"THROTTLE_PROTECT_HOSTNAME"`
	ThrottleCodes     string        `env:"THROTTLE_PROTECT_HTTP_CODE" envDefault:"429,500,503"`
	ThrottleWindow    time.Duration `env:"THROTTLE_TIME_WINDOW" envDefault:"60s"`

	UpstreamRetries        int           `env:"UPSTREAM_RETRIES" envDefault:"2"`
	UpstreamRetryDelay     time.Duration `env:"UPSTREAM_RETRY_DELAY" envDefault:"200ms"`
	UpstreamConnectTimeout time.Duration `env:"UPSTREAM_CONNECT_TIMEOUT" envDefault:"10s"`
	UpstreamTLSTimeout     time.Duration `env:"UPSTREAM_TLS_TIMEOUT" envDefault:"10s"`
	UpstreamHeaderTimeout  time.Duration `env:"UPSTREAM_HEADER_TIMEOUT" envDefault:"30s"`
	UpstreamIdleTimeout    time.Duration `env:"UPSTREAM_IDLE_TIMEOUT" envDefault:"60s"`
	AlistTimeout           time.Duration `env:"ALIST_TIMEOUT" envDefault:"15s"`
	MaxRedirects           int           `env:"MAX_REDIRECTS" envDefault:"5"`
	// CLIENT_IDLE_TIMEOUT: a download whose client accepts no bytes for this long is dropped
	// (a client that stops reading must not hold a connection and an upstream stream forever).
	ClientIdleTimeout time.Duration `env:"CLIENT_IDLE_TIMEOUT" envDefault:"120s"`

	// Parsed is what the settings parse into at load time (keys, policy, client-IP rules, ...).
	Parsed ProxyDerived `env:"-"`
}

// ProxyDerived is what the proxy's settings parse into.
type ProxyDerived struct {
	Derived
	WorkerAddr string // WORKER_ADDRESS normalised (sign.WorkerAddr)
	Checks     sign.Checks
	AllowedIPs clientip.Prefixes
	BlockedIPs clientip.Prefixes
	FileLimit  quota.Size
	Throttle   []int
	Hosts      []string
	// TotalLimitText is IPSUBNET_BANDWIDTH_LIMIT as written, echoed in 429 messages.
	TotalLimitText string
}

// LoadProxy reads and validates the proxy's configuration from environ (KEY → value).
func LoadProxy(environ map[string]string) (*Proxy, error) {
	var c Proxy
	var p Problems
	parse(environ, &c, &p)
	c.Parsed.Derived = c.Common.validate(&p, proxyVocab, landingVocab)
	c.Parsed.WorkerAddr = sign.WorkerAddr(c.WorkerAddress)
	c.Parsed.TotalLimitText = strings.TrimSpace(environ["IPSUBNET_BANDWIDTH_LIMIT"])
	if c.WorkerCheck && c.Parsed.WorkerAddr == "" {
		p.Addf("WORKER_ADDRESS is required while WORKER_CHECK is on: this proxy's public origin, e.g. https://dl.example.com")
	}
	c.Parsed.Checks = sign.Checks{Sign: c.SignCheck, Hash: c.HashCheck, Worker: c.WorkerCheck, IP: c.IPCheck,
		Addition: c.AdditionCheck, AdditionExpire: c.AdditionExpireTimeCheck}
	var err error
	if c.Parsed.AllowedIPs, err = clientip.ParsePrefixes(c.AllowedIPs); err != nil {
		p.Addf("ALLOWED_IPS=%q: %v; accepted: comma separated CIDRs or addresses", c.AllowedIPs, err)
	}
	if c.Parsed.BlockedIPs, err = clientip.ParsePrefixes(c.BlockedIPs); err != nil {
		p.Addf("BLOCKED_IPS=%q: %v; accepted: comma separated CIDRs or addresses", c.BlockedIPs, err)
	}
	if c.QuotaTotalEnabled && c.BandwidthLimit <= 0 {
		p.Addf("IPSUBNET_BANDWIDTH_LIMIT is required when QUOTA_LIMIT_TOTAL_ENABLED is on; accepted: %s", sizeAccepted)
	}
	if c.Parsed.FileLimit, err = ParseFileLimit(c.FileBandwidthLimit); err != nil {
		p.Addf("IPSUBNET_FILEPATH_BANDWIDTH_LIMIT=%q: %v", c.FileBandwidthLimit, err)
	} else if c.QuotaFileEnabled && c.Parsed.FileLimit == (quota.Size{}) {
		p.Addf("IPSUBNET_FILEPATH_BANDWIDTH_LIMIT is required when QUOTA_LIMIT_FILEPATH_ENABLED is on; accepted: %s, or a multiple of the file size such as 2x", sizeAccepted)
	}
	for _, s := range splitList(c.ThrottleCodes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			p.Addf("THROTTLE_PROTECT_HTTP_CODE=%q: %q is not an HTTP status; accepted: comma separated codes such as 429,500,503", c.ThrottleCodes, s)
			continue
		}
		c.Parsed.Throttle = append(c.Parsed.Throttle, n)
	}
	c.Parsed.Hosts = splitList(strings.ToLower(c.ThrottleHostnames))
	if c.UpstreamRetries < 0 || c.UpstreamRetries > 10 {
		p.Addf("UPSTREAM_RETRIES=%d; accepted: 0 to 10", c.UpstreamRetries)
	}
	if c.MaxRedirects < 0 || c.MaxRedirects > 20 {
		p.Addf("MAX_REDIRECTS=%d; accepted: 0 to 20", c.MaxRedirects)
	}
	for name, d := range map[string]time.Duration{"UPSTREAM_CONNECT_TIMEOUT": c.UpstreamConnectTimeout, "UPSTREAM_TLS_TIMEOUT": c.UpstreamTLSTimeout,
		"UPSTREAM_HEADER_TIMEOUT": c.UpstreamHeaderTimeout, "UPSTREAM_IDLE_TIMEOUT": c.UpstreamIdleTimeout, "ALIST_TIMEOUT": c.AlistTimeout,
		"CLIENT_IDLE_TIMEOUT": c.ClientIdleTimeout} {
		if d <= 0 {
			p.Addf("%s must be positive; accepted: %s", name, durationAccepted)
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ParseFileLimit reads a per-file limit: a size ("500MB") or a multiple of the file ("2x").
func ParseFileLimit(s string) (quota.Size, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return quota.Size{}, nil
	}
	if m, ok := strings.CutSuffix(strings.ToLower(s), "x"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(m), 64)
		if err != nil || f <= 0 {
			return quota.Size{}, errNotFileLimit
		}
		return quota.Size{Multiple: f}, nil
	}
	n, err := ParseSize(s)
	if err != nil || n <= 0 {
		return quota.Size{}, errNotFileLimit
	}
	return quota.Size{Bytes: n}, nil
}

var errNotFileLimit = errors.New("not a size or a multiple; accepted: " + sizeAccepted + ", or a multiple of the file size such as 2x")

// QuotaConfig maps the proxy's limits onto pkg/quota.
func (c *Proxy) QuotaConfig() quota.Config {
	q := c.quotaBase()
	q.TotalEnabled = c.QuotaTotalEnabled
	q.TotalLimit = quota.Size{Bytes: int64(c.BandwidthLimit)}
	q.TotalWindow = c.BandwidthWindow
	q.TotalLimitText = c.Parsed.TotalLimitText
	q.TotalWindowText = FormatDuration(c.BandwidthWindow)
	q.FileEnabled = c.QuotaFileEnabled
	q.FileLimit = c.Parsed.FileLimit
	q.FileLimitText = strings.TrimSpace(c.FileBandwidthLimit)
	q.FileWindow = c.FileBandwidthWindow
	q.FileWindowText = FormatDuration(c.FileBandwidthWindow)
	q.BandwidthBlockTime = c.BandwidthBlockTime
	q.LinkTTL = c.LinkTTL
	q.ThrottleHosts = c.Parsed.Hosts
	q.ThrottleCodes = c.Parsed.Throttle
	q.ThrottleWindow = c.ThrottleWindow
	return q
}
