package landing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/internal/httpx"
)

// The proof-of-work is ALTCHA's format, so any ALTCHA client could solve it:
//
//	challenge = hex(SHA-256(salt + decimal(number))), number secret in [0, maxnumber]
//	signature = hex(HMAC-SHA256(page key, challenge))
//
// The salt carries the binding: "<random>?expires=<unix>&path=<sha256 of the path>&subnet=<tag>".
// Since the challenge is a hash of the salt and the signature covers the challenge, none of it
// can be changed without the page key; a solution is therefore only good for one file, one
// client subnet and ALTCHA_TOKEN_EXPIRE, and (with a database) only once.

const altchaAlgorithm = "SHA-256"

// Challenge is what the page's worker solves (ALTCHA's challenge JSON).
type Challenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int    `json:"maxnumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// Payload is ALTCHA's solution, sent base64-encoded JSON as the altcha parameter.
type Payload struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	Number    int64  `json:"number"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
	Took      int64  `json:"took,omitempty"`
}

// subnetTag binds a challenge to the client's subnet without writing the subnet into the page.
func subnetTag(subnet string) string {
	sum := sha256.Sum256([]byte(subnet))
	return hex.EncodeToString(sum[:16])
}

func powChallenge(salt string, number int64) string {
	sum := sha256.Sum256([]byte(salt + strconv.FormatInt(number, 10)))
	return hex.EncodeToString(sum[:])
}

func powSignature(key []byte, challenge string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challenge))
	return hex.EncodeToString(m.Sum(nil))
}

// newChallenge makes a challenge for pathHash and subnet, valid for ttl.
func newChallenge(key []byte, pathHash, subnet string, now time.Time, ttl time.Duration, maxNumber int) (Challenge, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return Challenge{}, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(maxNumber)+1))
	if err != nil {
		return Challenge{}, err
	}
	salt := hex.EncodeToString(rnd[:]) + "?expires=" + strconv.FormatInt(now.Add(ttl).Unix(), 10) +
		"&path=" + pathHash + "&subnet=" + subnetTag(subnet)
	ch := powChallenge(salt, n.Int64())
	return Challenge{Algorithm: altchaAlgorithm, Challenge: ch, MaxNumber: maxNumber, Salt: salt,
		Signature: powSignature(key, ch)}, nil
}

func powError(msg string) *httpx.Error {
	return &httpx.Error{Status: http.StatusForbidden, Message: msg, Reason: "pow"}
}

var (
	errPowMissing = powError("proof of work required")
	errPowInvalid = powError("proof of work invalid")
	errPowExpired = powError("proof of work expired")
	errPowPath    = powError("proof of work is for another file")
	errPowSubnet  = powError("proof of work is for another network")
	errPowReplay  = powError("proof of work already used")
)

// solution is a verified payload: its challenge is the single-use nonce.
type solution struct {
	challenge string
	expires   time.Time
}

// verifySolution checks a base64 ALTCHA payload against the page key and the binding.
func verifySolution(key []byte, raw, pathHash, subnet string, now time.Time) (*solution, error) {
	if raw == "" {
		return nil, errPowMissing
	}
	if len(raw) > 4096 {
		return nil, errPowInvalid
	}
	var js []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(raw); err == nil {
			js = b
			break
		}
	}
	var p Payload
	if js == nil || json.Unmarshal(js, &p) != nil {
		return nil, errPowInvalid
	}
	if p.Algorithm != altchaAlgorithm || p.Number < 0 || len(p.Challenge) != 64 {
		return nil, errPowInvalid
	}
	if subtle.ConstantTimeCompare([]byte(powChallenge(p.Salt, p.Number)), []byte(p.Challenge)) != 1 ||
		!hmac.Equal([]byte(powSignature(key, p.Challenge)), []byte(p.Signature)) {
		return nil, errPowInvalid
	}
	_, params, ok := strings.Cut(p.Salt, "?")
	if !ok {
		return nil, errPowInvalid
	}
	v, err := url.ParseQuery(params)
	if err != nil {
		return nil, errPowInvalid
	}
	expires, err := strconv.ParseInt(v.Get("expires"), 10, 64)
	if err != nil {
		return nil, errPowInvalid
	}
	if now.Unix() >= expires {
		return nil, errPowExpired
	}
	if v.Get("path") != pathHash {
		return nil, errPowPath
	}
	if v.Get("subnet") != subnetTag(subnet) {
		return nil, errPowSubnet
	}
	return &solution{challenge: p.Challenge, expires: time.Unix(expires, 0)}, nil
}
