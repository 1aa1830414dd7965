package upload

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
	"github.com/alist-edge/alist-edge/internal/pipeline"
	"github.com/alist-edge/alist-edge/pkg/quota"
)

// The refusals of a PUT, each with its own status and metric reason.
var (
	errLengthRequired = &httpx.Error{Status: http.StatusLengthRequired, Message: "Content-Length is required (the slot signs the size)", Reason: "length_required"}
	errTooLarge       = &httpx.Error{Status: http.StatusRequestEntityTooLarge, Message: "file is larger than UPLOAD_MAX_SIZE", Reason: "max_size"}
	errExtension      = &httpx.Error{Status: http.StatusUnsupportedMediaType, Message: "file extension not allowed", Reason: "extension"}
	errExistsAnswer   = &httpx.Error{Status: http.StatusConflict, Message: "file exists", Reason: "exists"}
	errDiskFull       = &httpx.Error{Status: http.StatusInsufficientStorage, Message: "not enough free space", Reason: "disk_full"}
	errDB             = &httpx.Error{Status: http.StatusServiceUnavailable, Message: "database unavailable", Reason: "database", RetryAfter: 5}
)

// put stores one upload. Everything that can refuse it is decided before the body is read:
// net/http sends "100 Continue" only when the handler first reads the body, so a client that
// sent Expect: 100-continue never sends a refused body. Order: the request's shape, the
// credentials (a bad one counts towards the auto-ban), the limits, the ban/rate/quota check
// (one round trip, reserving Content-Length bytes of the subnet's upload quota), the name,
// the free space.
func (s *Service) put(x *pipeline.Exchange, r *http.Request, p string) error {
	start := time.Now()
	st := s.set.Load()
	outcome, received := "refused", int64(0)
	defer func() {
		s.m.uploads.WithLabelValues(outcome).Inc()
		s.m.bytes.WithLabelValues(outcome).Add(float64(received))
		s.m.duration.Observe(time.Since(start).Seconds())
	}()
	size := r.ContentLength
	if size < 0 {
		return s.refuse(x, errLengthRequired)
	}
	g, e := verify(r, p, size, st.secrets, s.clock())
	if e != nil {
		if e.Reason == "signature" {
			s.store.RecordFailure(quota.ScopeUpload, x.Subnet)
			// The access line's reason ends in "mismatch"/"invalid": what the fail2ban filter
			// (and logx.WrongSignature) counts as a forged credential.
			switch e {
			case errBadToken:
				x.LogReason = "upload token invalid"
			case errNoCredentials:
				x.LogReason = "upload credentials missing"
			default:
				x.LogReason = "upload MAC mismatch"
			}
		}
		if e.Status == http.StatusUnauthorized || e == errNoCredentials {
			x.W.Header().Set("WWW-Authenticate", "Bearer")
		}
		return s.refuse(x, e)
	}
	if size > st.maxSize {
		return s.refuse(x, errTooLarge)
	}
	if len(st.exts) > 0 && !slices.Contains(st.exts, extOf(p)) {
		return s.refuse(x, errExtension)
	}
	req := quota.CheckRequest{Scope: quota.ScopeUpload, Subnet: x.Subnet, Reserve: size, Now: s.clock()}
	d, err := s.store.Check(r.Context(), req)
	if err != nil {
		if r.Context().Err() != nil {
			return pipeline.ErrClientGone
		}
		x.Err = err
		return s.refuse(x, errDB)
	}
	if !d.Allowed {
		return s.refuse(x, httpx.QuotaRefusal(d))
	}
	// The meter settles the reservation against the bytes really received: a refused or cut
	// upload gives the rest of its reservation back.
	meter := s.store.Meter(req, d)
	defer meter.Close()
	if s.files.exists(p) {
		outcome = "exists"
		return s.refuse(x, errExistsAnswer)
	}
	if free, err := s.files.freeSpace(); err == nil {
		s.m.freeBytes.Set(float64(free))
		if free-size < st.minFree {
			return s.refuse(x, errDiskFull)
		}
	}

	rc := http.NewResponseController(x.W)
	body := &countingReader{r: &idleReader{r: r.Body, rc: rc}, add: meter.Add}
	err = s.files.create(p, body, size)
	received = body.n
	switch {
	case errors.Is(err, errExists):
		outcome = "exists"
		return s.refuse(x, errExistsAnswer) // the other PUT of this slot won, or a folder is in the way
	case errors.Is(err, errShortBody) || errors.Is(err, os.ErrDeadlineExceeded) || (err != nil && r.Context().Err() != nil):
		// Cut, stalled past idleTimeout, or gone: the body is discarded.
		outcome = pipeline.ReasonClientGone
		return pipeline.ErrClientGone
	case err != nil:
		outcome = "failed"
		return err
	}
	row := quota.Upload{Path: p, Size: size, ContentType: g.contentType, UploadedAt: s.clock()}
	// The body is complete: its row is committed even if the client hangs up now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := s.uploads.AddUpload(ctx, row); err != nil {
		// A 201 promises a file GET can serve and the janitor can expire: without its row it is
		// neither, so it goes.
		_, _ = s.files.remove(p)
		outcome, x.Err = "failed", err
		return s.refuse(x, errDB)
	}
	outcome = "created"
	s.m.storedFiles.Inc()
	s.m.storedBytes.Add(float64(size))
	s.log.Info("upload stored", "request_id", x.ID, "protocol", g.protocol, "size", size)
	// The answer's write deadline started with the request; the body may have taken longer.
	_ = rc.SetWriteDeadline(time.Now().Add(idleTimeout))
	h := x.W.Header()
	httpx.SetCORS(h, r)
	h.Set("Content-Length", "0")
	x.W.WriteHeader(http.StatusCreated)
	return nil
}
