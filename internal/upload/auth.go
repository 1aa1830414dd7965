package upload

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

// The slot protocols (docs/upload.md). Every MAC is HMAC-SHA256 in lowercase hex, compared in
// constant time against each key of UPLOAD_SECRET (the first is current, any verifies).
//
//   - Prosody mod_http_upload_external v1 (?v=) and ejabberd external_secret: P + " " + L.
//   - Prosody v2 (?v2=) and Metronome (?token=): P + "\0" + L + "\0" + T, T the request's
//     Content-Type (the type the client declared when it asked for the slot).
//   - Prosody 0.12 mod_http_file_share, external mode: Authorization: Bearer <HS256 JWT>, URL
//     <slot>/<filename>; its own verifier's answers are kept (401, 410, 400, 413).
//
// L is the request's Content-Length: a MAC over it is a MAC over the size the body must have.

// grant is what a verified request may store.
type grant struct {
	protocol    string // v1, v2, token, jwt: a metric label and the access line's detail
	contentType string // what GET will answer with
}

// The refusals of the credentials. A bad MAC or token counts towards the auto-ban.
var (
	errNoCredentials = &httpx.Error{Status: http.StatusForbidden, Message: "missing upload MAC or token", Reason: "signature"}
	errBadMAC        = &httpx.Error{Status: http.StatusForbidden, Message: "upload MAC mismatch", Reason: "signature"}
	errBadToken      = &httpx.Error{Status: http.StatusUnauthorized, Message: "invalid upload token", Reason: "signature"}
	errTokenExpired  = &httpx.Error{Status: http.StatusGone, Message: "upload token expired", Reason: "token_expired"}
	errSlotMismatch  = &httpx.Error{Status: http.StatusBadRequest, Message: "upload token is for another slot", Reason: "slot_mismatch"}
	errSizeMismatch  = &httpx.Error{Status: http.StatusRequestEntityTooLarge, Message: "Content-Length differs from the size of the slot", Reason: "size_mismatch"}
)

// macParams are the query parameters in the order they win: the highest version first.
var macParams = [...]struct{ name, protocol string }{{"v2", "v2"}, {"token", "token"}, {"v", "v1"}}

// verify checks r's credentials for slot path p with Content-Length size. A request carrying a
// MAC parameter is an HMAC one; else a Bearer token is the JWT protocol.
func verify(r *http.Request, p string, size int64, secrets [][]byte, now time.Time) (grant, *httpx.Error) {
	q := r.URL.Query()
	for _, mp := range macParams {
		if !q.Has(mp.name) {
			continue
		}
		ct := r.Header.Get("Content-Type")
		var msg string
		if mp.protocol == "v1" {
			msg = p + " " + strconv.FormatInt(size, 10)
		} else {
			msg = p + "\x00" + strconv.FormatInt(size, 10) + "\x00" + ct
		}
		if !macOK(q.Get(mp.name), msg, secrets) {
			return grant{}, errBadMAC
		}
		return grant{protocol: mp.protocol, contentType: ct}, nil
	}
	if r.Header.Get("Authorization") != "" {
		return verifyJWT(r.Header.Get("Authorization"), p, size, secrets, now)
	}
	return grant{}, errNoCredentials
}

// macOK compares the lowercase hex MAC of msg under each secret with mac in constant time.
func macOK(mac, msg string, secrets [][]byte) bool {
	got, err := hex.DecodeString(mac)
	if err != nil || len(got) != sha256.Size || strings.ToLower(mac) != mac {
		return false
	}
	ok := false
	for _, s := range secrets {
		h := hmac.New(sha256.New, s)
		h.Write([]byte(msg))
		ok = hmac.Equal(h.Sum(nil), got) || ok // every key is tried: no timing on which one matched
	}
	return ok
}

// fileShareClaims are the claims Prosody's mod_http_file_share signs (get_authz).
type fileShareClaims struct {
	Sub      string   `json:"sub"`
	IAT      *float64 `json:"iat"`
	Exp      *float64 `json:"exp"`
	Slot     string   `json:"slot"`
	Expires  *float64 `json:"expires,omitempty"`
	Filename string   `json:"filename"`
	Filesize *float64 `json:"filesize"`
	Filetype string   `json:"filetype"`
}

// The library checks the signature and the algorithm only; the claims are checked here in
// Prosody's order so that the answers are its answers (an expired token is 410, not 401).
func (fileShareClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (fileShareClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (fileShareClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (fileShareClaims) GetIssuer() (string, error)                   { return "", nil }
func (fileShareClaims) GetSubject() (string, error)                  { return "", nil }
func (fileShareClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

var jwtParser = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())

// verifyJWT follows handle_upload of mod_http_file_share: a malformed header or a token that does
// not verify (or has no numeric exp) is 401 with WWW-Authenticate: Bearer, an expired one 410, a
// slot other than the path's first segment 400, a Content-Length other than filesize 413. The
// file name segment must be the signed one too: the name is what GET serves and the extension
// list judges.
func verifyJWT(authz, p string, size int64, secrets [][]byte, now time.Time) (grant, *httpx.Error) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || tok == "" {
		return grant{}, errBadToken
	}
	var claims fileShareClaims
	verified := false
	for _, s := range secrets {
		claims = fileShareClaims{}
		if _, err := jwtParser.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return s, nil }); err == nil {
			verified = true
			break
		} else if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return grant{}, errBadToken // malformed: no other key makes it well-formed
		}
	}
	if !verified || claims.Exp == nil || claims.Filesize == nil {
		return grant{}, errBadToken
	}
	if *claims.Exp < float64(now.Unix()) {
		return grant{}, errTokenExpired
	}
	slot, name, _ := strings.Cut(p, "/")
	if claims.Slot == "" || slot != claims.Slot || name != claims.Filename {
		return grant{}, errSlotMismatch
	}
	if float64(size) != *claims.Filesize {
		return grant{}, errSizeMismatch
	}
	ct := claims.Filetype
	if ct == "" {
		ct = "application/octet-stream"
	}
	return grant{protocol: "jwt", contentType: ct}, nil
}
