// Package quota is the shared state of the gateway: per-subnet request windows and blocks,
// bandwidth quotas, the AList link cache, upstream throttle protection, auto-bans, the landing's
// file-size cache and single-use proof-of-work nonces.
//
// The design rule (docs/contract.md §8) is ONE database round trip per download request: Store.Check reads
// and updates everything a request needs in one Postgres statement or one SQLite transaction.
// Every write that follows the response (link cache save, usage, throttle updates, failure
// counts) goes through a bounded in-process queue that is drained on Close, so it never delays
// a response and nothing recorded is lost on a clean stop.
package quota

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Scope separates the counters of the two services when they share one database, so a
// landing page view never spends the proxy's request budget.
type Scope string

const (
	ScopeProxy   Scope = "proxy"
	ScopeLanding Scope = "landing"
	ScopeUpload  Scope = "upload" // cmd/upload: upload rate, byte quota and bad-MAC bans
)

// Size is a bandwidth limit: a fixed byte count, or a multiple of the file's size
// (`2x` in the environment). The zero value means "no limit".
type Size struct {
	Bytes    int64   // > 0: fixed limit in bytes
	Multiple float64 // > 0: limit = Multiple × additionalInfo.filesize
}

// Limit resolves the limit for a file of fileSize bytes; ok is false when the limit does not
// apply (unset, or a multiple with an unknown size).
func (s Size) Limit(fileSize int64) (limit int64, ok bool) {
	switch {
	case s.Bytes > 0:
		return s.Bytes, true
	case s.Multiple > 0 && fileSize > 0:
		return int64(s.Multiple * float64(fileSize)), true
	}
	return 0, false
}

// Config holds the limits; the services map their env Config onto it.
type Config struct {
	// Request window (docs/contract.md §8). RequestLimit <= 0 turns the request limit off.
	WindowTime   time.Duration // WINDOW_TIME
	RequestLimit int           // IPSUBNET_WINDOWTIME_LIMIT
	BlockTime    time.Duration // BLOCK_TIME; 0 = until the window ends

	// Bandwidth quotas.
	TotalEnabled       bool          // QUOTA_LIMIT_TOTAL_ENABLED
	TotalLimit         Size          // IPSUBNET_BANDWIDTH_LIMIT (Bytes only)
	TotalWindow        time.Duration // BANDWIDTH_WINDOW_TIME_TOTAL
	FileEnabled        bool          // QUOTA_LIMIT_FILEPATH_ENABLED
	FileLimit          Size          // IPSUBNET_FILEPATH_BANDWIDTH_LIMIT
	FileWindow         time.Duration // BANDWIDTH_WINDOW_TIME_FILEPATH
	BandwidthBlockTime time.Duration // BANDWIDTH_BLOCK_TIME (default 10m)
	// TotalLimitText/FileLimitText and the *WindowText fields are the limits as the operator wrote
	// them; a refusal carries them in Decision.Limit (the answer echoes them, docs/contract.md §8).
	TotalLimitText, FileLimitText               string
	WindowText, TotalWindowText, FileWindowText string

	// Link cache.
	LinkTTL time.Duration // LINK_TTL; 0 = no link cache
	// Landing size cache.
	SizeTTL time.Duration // SIZE_TTL; 0 = no size cache

	// Throttle protection.
	ThrottleHosts  []string      // THROTTLE_PROTECT_HOSTNAME patterns; "*.example.com" matches the apex too
	ThrottleCodes  []int         // THROTTLE_PROTECT_HTTP_CODE (default 429,500,503)
	ThrottleWindow time.Duration // THROTTLE_TIME_WINDOW (default 60s)

	// Auto-ban. BanAfterFails <= 0 turns it off.
	BanAfterFails int           // BAN_AFTER_FAILS
	BanWindow     time.Duration // BAN_WINDOW
	BanTime       time.Duration // BAN_TIME

	// FailOpen: on a database error serve without limits (PG_ERROR_HANDLE=fail-open).
	FailOpen bool

	// UsageFlushBytes / UsageFlushInterval: a long stream's usage is written progressively
	// whenever this many bytes or this much time has accumulated (defaults 4 MiB / 2s).
	UsageFlushBytes    int64
	UsageFlushInterval time.Duration
	// ReserveChunk is what a capped stream of unknown length is granted at a time (the first
	// grant by Check, then each Meter.Extend the proxy asks for; default 4 MiB).
	ReserveChunk int64
	// QueueSize bounds the asynchronous write queue (default 4096).
	QueueSize int
	// JanitorInterval: how often expired rows are removed (default 1m).
	JanitorInterval time.Duration

	// Clock stamps the asynchronous writes (usage, cache saves, throttle reports, failures,
	// nonces), which have no request time of their own; Check uses CheckRequest.Now so that a
	// test can fix both to one fake clock. Default time.Now.
	Clock func() time.Time
	// CheckTimeout bounds one Check so that a hung database turns into a fail-open/closed
	// answer instead of a hung request (default 5s; a shorter ctx deadline wins).
	CheckTimeout time.Duration
}

// CheckRequest is everything the unified check needs to know about one request.
type CheckRequest struct {
	Scope    Scope
	Subnet   string // formatted subnet, e.g. "203.0.113.7/32" (sign.Subnet); hashed before storage
	PathHash string // sha256 hex of the decoded path
	FileSize int64  // additionalInfo.filesize; <= 0 unknown (per-file multiple limits are skipped)
	WantLink bool   // proxy: return the cached /api/fs/link answer for PathHash
	WantSize bool   // landing: return the cached file size for PathHash
	Now      time.Time
	// Path is the decoded path, only echoed in a per-file quota refusal (Decision.Path: the
	// answer names the path there); PathHash is used when it is empty. Never stored.
	Path string
	// Reserve is what the answer is expected to deliver (the signed file size, or the length of
	// the requested Range), 0 when nothing (HEAD), ReserveUnknown when the size is not known.
	// While a bandwidth quota applies, the check admits the request only if the reservation
	// fits under every quota and counts it at once, so parallel requests see each other.
	Reserve int64
	// Counters are the policy limits of this request (counters.go): checked after the
	// subnet's own quotas, in this order, reserved and counted in the same round trip.
	Counters []Counter
	// Revocable: refuse the request (ReasonRevoked) when Path is on the revocation list.
	Revocable bool
}

// ReserveUnknown: the answer's length is not known before the upstream answers; a capped
// stream is then granted Config.ReserveChunk at a time.
const ReserveUnknown int64 = -1

// Link is a cached /api/fs/link answer.
type Link struct {
	URL       string
	Header    http.Header // data.header, sent with the upstream fetch; may be nil
	FetchedAt time.Time
}

// Reason names why a request was refused; used in logs and metric labels.
type Reason string

const (
	ReasonNone          Reason = ""
	ReasonRate          Reason = "rate_limit"
	ReasonBandwidth     Reason = "bandwidth_total"
	ReasonFileBandwidth Reason = "bandwidth_filepath"
	ReasonBanned        Reason = "banned"
	ReasonThrottled     Reason = "throttled"
	ReasonCounter       Reason = "policy_limit" // a policy counter's cap; Decision.Counter names it
	ReasonRevoked       Reason = "revoked"      // the path is revoked (HTTP 410)
)

// Decision is the answer of the unified check, in domain terms: what was decided and the facts
// that explain it. Turning a refusal into an HTTP answer (status, the exact text of
// docs/contract.md §8, Retry-After) is the caller's business: internal/httpx.QuotaRefusal.
type Decision struct {
	Allowed    bool
	Reason     Reason // why it was refused (ReasonNone when allowed)
	RetryAfter int    // seconds until a retry can succeed, >= 1 when !Allowed

	// The facts of a refusal (zero when allowed).
	Subnet         string // the subnet refused (CheckRequest.Subnet)
	Path           string // bandwidth_filepath, revoked: CheckRequest.Path, or PathHash when Path is empty
	Limit          Limit  // rate_limit, bandwidth_*: the limit that was reached, as configured
	UpstreamStatus int    // throttled: the status the upstream host answered with
	Counter        string // policy_limit: the Name of the counter that refused

	Link     *Link // WantLink and a cache entry younger than LinkTTL (nil otherwise)
	Size     int64 // WantSize: cached size, -1 when none
	FailOpen bool  // the database failed and Config.FailOpen let the request through
	// Grant is how many bytes the admitted answer may deliver before it must ask for more
	// (Meter.Extend): the reservation counted by the check. -1: no bandwidth quota applies.
	Grant int64

	res *reservation // what the check reserved; Store.Meter settles it
}

// Limit is a configured limit as a refusal names it: requests (rate_limit, policy_limit) or
// bytes (bandwidth_*, policy_limit) per window, plus the operator's own spelling of both when Config has it.
type Limit struct {
	Requests int           // rate_limit: Config.RequestLimit
	Bytes    Size          // bandwidth_*: Config.TotalLimit or FileLimit (fixed, or a multiple)
	Window   time.Duration // WindowTime, TotalWindow or FileWindow
	// Text and WindowText are the limit and the window as configured (Config's *Text fields);
	// empty when not given.
	Text, WindowText string
	// WindowEnd is when a policy counter's window ends (policy_limit only).
	WindowEnd time.Time
}

// ErrUnavailable wraps database failures under fail-closed: the request cannot be decided.
var ErrUnavailable = errors.New("quota: database unavailable")

// LimitError is Meter.Extend's answer when a quota cannot grant all the bytes asked for;
// Decision is the refusal a check would have given.
type LimitError struct{ Decision Decision }

func (e *LimitError) Error() string { return "quota: " + string(e.Decision.Reason) + " limit reached" }

// Store is implemented by the SQLite and Postgres backends.
type Store interface {
	// Check is the single round trip. Under fail-open a database error yields an allowed
	// Decision with FailOpen set and a nil error; under fail-closed an error wrapping
	// ErrUnavailable.
	Check(ctx context.Context, req CheckRequest) (Decision, error)

	// Asynchronous writes: queued, never block the caller for I/O (a full queue drops the
	// cache/throttle write and counts it; usage is merged in memory instead and is never dropped
	// silently: see StatsReporter).
	SaveLink(pathHash string, link Link)
	SaveSize(pathHash string, size int64)
	// ReportUpstream records the status an upstream host answered with: a protected code on a
	// protected host protects it for ThrottleWindow; a success clears it.
	ReportUpstream(host string, status int)
	// InvalidateLink drops a cached link (it answered 401/403/404/410).
	InvalidateLink(pathHash string)
	// RecordFailure counts a failed signature check for auto-ban; counted in memory and
	// flushed in batches.
	RecordFailure(scope Scope, subnet string)

	// Meter starts byte accounting for the answer to req that d admitted. Add is called with
	// every chunk written to the client; usage is recorded whether or not a quota is enabled,
	// progressively and the rest on Close. When d reserved bytes (Grant >= 0) the Meter holds
	// that reservation: Extend asks for more, and Close settles it against the bytes really
	// delivered (releasing what was not used). Close it on every path, even when nothing was
	// sent. A zero Decision gives a plain meter without a reservation.
	Meter(req CheckRequest, d Decision) *Meter

	// UseNonce marks a single-use token (proof-of-work solution) as spent; false when it was
	// already used. Synchronous: it is the replay defence.
	UseNonce(ctx context.Context, nonce string, expires time.Time) (fresh bool, err error)

	// Ping is for /readyz: it fails when the database cannot commit a write (it writes one
	// row) or when the last checks failed within the last few seconds.
	Ping(ctx context.Context) error
	// Close drains the write queue (bounded by ctx) and closes the database.
	Close(ctx context.Context) error
}
