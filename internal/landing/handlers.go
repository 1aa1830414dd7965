package landing

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/webpage"
	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/quota"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

var (
	errIPv6       = httpx.ErrIPv6
	errPath       = httpx.ErrPath
	errPathAbsent = &httpx.Error{Status: http.StatusBadRequest, Message: "path missing", Reason: "path"}
	errDenied     = httpx.ErrPolicy
)

// target is a request that passed the gate: a well-formed path the policy allows and whose
// AList sign is valid.
type target struct {
	encoded  string // percent-encoded as received, dot segments removed: goes into the URL
	decoded  string // what every signature covers
	served   string // what the origin serves for it (sign.ServedPath): asked for its size
	pathHash string
	sign     string
	expire   int64 // of the incoming sign; every derived signature reuses it
	action   policy.Action
	limits   []*policy.Limit // of the deciding rule: the usage lines
	who      *visitor        // nil: anonymous
	sec      *secrets
}

// gate runs the checks every route shares, in the order of docs/contract.md §5: IPV4_ONLY, path
// encoding, policy block, then the sign. It runs before any bot check, so a forged link never
// spends a Turnstile token or a proof-of-work nonce.
func (s *Service) gate(rc *reqCtx, r *http.Request, rawPath, signValue string) (*target, error) {
	if s.cfg.IPv4Only && rc.Client.IsIPv6() {
		return nil, errIPv6
	}
	encoded, decoded, err := sign.RequestPath(rawPath)
	if err != nil {
		return nil, errPath
	}
	// The policy judges the path the origin will serve (AList cleans `\` and "//"); the
	// signatures keep covering the decoded path (docs/contract.md §3).
	served, err := sign.ServedPath(decoded, s.originKind())
	if err != nil {
		return nil, errPath
	}
	sec := s.sec.Load()
	who, err := s.identify(r, sec.id)
	if err != nil {
		return nil, err
	}
	// The same policy as the proxy's, in the landing's action names. The landing has no signed
	// size (the link it checks is AList's): size matchers see an unknown size and never match
	// here. Quotas and rates are the proxy's.
	pr := policy.Request{Path: served, Addr: rc.Client.Addr.Unmap(), Time: s.now(), Size: -1, Method: r.Method, Host: httpx.HostOnly(r.Host)}
	if who != nil {
		pr.User, pr.Groups = who.id.User, who.id.Groups
	}
	pd := sec.pol.Decide(&pr)
	sec.counts.Count(&pd)
	action := pd.Action
	// An anonymous visitor the policy refuses may be one who has not signed in yet: with a
	// login source and user or group rules, a valid link gets the sign-in form (file), never a
	// forged one.
	login := action.Has(policy.Block) && who == nil && sec.id.loginEnabled() && sec.id.usesID
	if action.Has(policy.Block) && !login {
		return nil, errDenied
	}
	expire, err := sec.kr.Verify(&sign.LandingMessages, signValue, decoded, s.now().Unix())
	if err != nil {
		if s.store != nil && sign.Forged(err) {
			s.store.RecordFailure(quota.ScopeLanding, rc.Subnet)
		}
		return nil, &httpx.Error{Status: http.StatusUnauthorized, Message: err.Error(), Reason: "signature"}
	}
	t := &target{encoded: encoded, decoded: decoded, served: served, pathHash: sign.PathHash(decoded), sign: signValue,
		expire: expire, action: action, limits: pd.Limits, who: who, sec: sec}
	if login {
		return t, errLoginRequired
	}
	return t, nil
}

// errLoginRequired is a policy refusal that signing in may lift: a browser gets the sign-in
// form, any other client the policy's 403.
var errLoginRequired = &httpx.Error{Status: errDenied.Status, Message: errDenied.Message, Reason: errDenied.Reason}

// originKind says how the origin cleans paths (sign.ServedPath).
func (s *Service) originKind() sign.OriginKind {
	if s.cfg.Parsed.LocalRoot != "" {
		return sign.OriginLocal
	}
	return sign.OriginAList
}

// botChecks says which checks a path needs: a verify-* action forces its checks, pass-web and
// pass-server waive them, anything else (pass-asis, no list matched) follows ALTCHA_ENABLED
// and UNDER_ATTACK.
func (s *Service) botChecks(a policy.Action) (pow, turn bool) {
	switch {
	case a.Has(policy.PassWeb), a.Has(policy.PassServer):
		return false, false
	case a&policy.VerifyBoth != 0:
		return a&policy.VerifyPow != 0, a&policy.VerifyTurn != 0
	}
	return s.cfg.AltchaEnabled, s.cfg.UnderAttack
}

// file serves GET|HEAD /<path>?sign=: a 302 straight to a proxy, or the page.
func (s *Service) file(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	t, err := s.gate(rc, r, sign.RawPath(r.RequestURI), r.URL.Query().Get("sign"))
	// A client that does not ask for HTML (a download manager, curl) would save the page as the
	// file: it gets the 302 when no bot check is due (even under pass-web: the page would only
	// carry the same link), else a JSON 403 naming the check it cannot pass.
	page := webpage.AcceptsHTML(r)
	if err == errLoginRequired && page && r.Method == http.MethodGet {
		rc.Denied, rc.Reason = true, "login_required"
		return s.renderLogin(w, r, t.decoded, r.RequestURI, "", "", http.StatusUnauthorized)
	}
	if err != nil {
		return err
	}
	pow, turn := s.botChecks(t.action)
	if !page && (pow || turn) {
		return botCheckRequired(pow, turn)
	}
	if !pow && !turn && (!page || t.action.Has(policy.PassServer) || (s.cfg.FastRedirect && !t.action.Has(policy.PassWeb))) {
		iss, err := s.issue(r.Context(), rc, t)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Location", iss.url)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
		return nil
	}
	pd := s.newPage(r, t)
	if t.who != nil {
		s.addIdentity(r, rc, pd, t)
	}
	if !pow && !turn {
		// No bot check: the link is in the page itself, so it works without JavaScript.
		iss, err := s.issue(r.Context(), rc, t)
		if err != nil {
			return err
		}
		pd.setIssued(iss)
	} else {
		if pow {
			ch, err := newChallenge(t.sec.pageKey, t.pathHash, rc.Subnet, s.now(), s.cfg.AltchaTokenExpire, s.cfg.AltchaDifficulty)
			if err != nil {
				return err
			}
			pd.Config.Pow = &ch
		}
		if turn {
			pd.Config.Turnstile = &turnstileConfig{SiteKey: s.cfg.TurnstileSiteKey, Action: turnstileAction, CData: turnstileCData(t.pathHash)}
		}
	}
	return s.renderPage(w, pd)
}

// botCheckRequired is the file route's answer to a client that cannot run the page: the
// messages are /info's for a missing answer, so a script sees one wording for each check.
func botCheckRequired(pow, turn bool) error {
	switch {
	case pow && turn:
		return errBothMissing
	case pow:
		return errPowMissing
	}
	return errTurnMissing
}

var errBothMissing = powError("proof of work and turnstile token required")

// info serves /info?path=&sign= (GET, or POST carrying the bot-check answers in a form body).
func (s *Service) info(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	p := q.Get("path")
	if p == "" {
		return errPathAbsent
	}
	if p[0] != '/' {
		return errPath
	}
	t, err := s.gate(rc, r, p, q.Get("sign"))
	if err != nil {
		return err
	}
	pow, turn := s.botChecks(t.action)
	if pow || turn {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				return &httpx.Error{Status: http.StatusBadRequest, Message: "invalid form", Reason: "form"}
			}
		}
		var sol *solution
		if pow {
			if sol, err = verifySolution(t.sec.pageKey, formValue(r, "altcha"), t.pathHash, rc.Subnet, s.now()); err != nil {
				return err
			}
		}
		if turn {
			if err := s.turnstile.verify(r.Context(), formValue(r, "turnstile"), rc.Client.Text, t.pathHash); err != nil {
				return err
			}
		}
		// The nonce is spent last: a proof-of-work whose Turnstile failed may be retried.
		if sol != nil && s.store != nil {
			fresh, err := s.store.UseNonce(r.Context(), sol.challenge, sol.expires)
			if err != nil {
				return err
			}
			if !fresh {
				return errPowReplay
			}
		}
	}
	iss, err := s.issue(r.Context(), rc, t)
	if err != nil {
		return err
	}
	b := make([]byte, 0, len(iss.url)+len(t.decoded)+256)
	b = append(b, `{"code":200,"data":{"download":{"url":`...)
	b = sign.AppendJSString(b, iss.url)
	b = append(b, `},"meta":{"path":`...)
	b = sign.AppendJSString(b, t.decoded)
	b = append(b, `,"name":`...)
	b = sign.AppendJSString(b, baseName(t.decoded))
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, iss.size, 10)
	b = append(b, `},"settings":{"autoRedirect":`...)
	b = strconv.AppendBool(b, s.cfg.AutoRedirect)
	b = append(b, `,"fastRedirect":`...)
	b = strconv.AppendBool(b, s.cfg.FastRedirect)
	b = append(b, `,"ipv4Only":`...)
	b = strconv.AppendBool(b, s.cfg.IPv4Only)
	b = append(b, `,"additionalInfo":`...)
	b = strconv.AppendBool(b, s.cfg.IfAppendAdditional)
	b = append(b, "}}}"...)
	h := w.Header()
	httpx.SetCORS(h, r)
	h.Set("Content-Type", httpx.ContentTypeJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
	return nil
}

// formValue reads a bot-check answer from the query or a POSTed form.
func formValue(r *http.Request, name string) string {
	if v := r.URL.Query().Get(name); v != "" {
		return v
	}
	if r.PostForm != nil {
		return r.PostForm.Get(name)
	}
	return ""
}

type issued struct {
	url  string
	size int64
}

// issue makes the download URL: one database round trip (rate limit + cached size), the size
// from AList or the local folder on a cache miss, then the six parameters.
func (s *Service) issue(ctx context.Context, rc *reqCtx, t *target) (issued, error) {
	now := s.now()
	size := int64(-1)
	if s.store != nil {
		start := time.Now()
		d, err := s.store.Check(ctx, quota.CheckRequest{Scope: quota.ScopeLanding, Subnet: rc.Subnet,
			PathHash: t.pathHash, WantSize: true, Now: now, Path: t.decoded})
		s.m.DBRoundTrip.Observe(time.Since(start).Seconds())
		if err != nil {
			return issued{}, err
		}
		if d.FailOpen {
			s.m.FailOpen.Inc()
		}
		if !d.Allowed {
			return issued{}, httpx.QuotaRefusal(d)
		}
		size = d.Size
	}
	if size < 0 {
		var err error
		if size, err = s.sizer.size(ctx, t.served, rc.Client.Text); err != nil {
			return issued{}, err
		}
		if s.store != nil {
			s.store.SaveSize(t.pathHash, size)
		}
	}
	w := s.pickWorker()
	var info *sign.AdditionalInfo
	if s.cfg.IfAppendAdditional {
		life := sign.LinkLifetime(size, int64(s.cfg.MinDurationTime/time.Second), s.cfg.MinBandwidthMbps)
		info = &sign.AdditionalInfo{PathHash: t.pathHash, FileSize: size, ExpireTime: now.Unix() + life}
		if t.who != nil {
			info.User, info.Groups = t.who.id.User, t.who.id.Groups
			if err := info.CheckIdentity(); err != nil {
				return issued{}, fmt.Errorf("landing: the identity of %s cannot go into a link: %w", t.who.id.Source, err)
			}
		}
	}
	p := t.sec.kr.BuildParams(t.decoded, w.addr, rc.Client.Text, t.expire, info)
	return issued{url: sign.DownloadURL(w.origin, t.encoded, p), size: size}, nil
}

// baseName is the last path segment, for display ("/" for the root).
func baseName(p string) string {
	trimmed := strings.TrimRight(p, "/")
	if trimmed == "" {
		return p
	}
	return trimmed[strings.LastIndexByte(trimmed, '/')+1:]
}

// EncodePath percent-encodes each segment of a decoded path the way AList writes landing
// links (url.PathEscape per segment).
func EncodePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// SignedURL is the link AList hands out for path: base (the landing's public URL) + the
// encoded path + ?sign= signed with the keyring's first key.
func SignedURL(base string, kr *sign.Keyring, path string, expire int64) string {
	return strings.TrimRight(base, "/") + EncodePath(path) + "?sign=" + url.QueryEscape(kr.Sign(path, expire))
}
