// Package sign is the AList signature primitive and everything the landing and the proxy sign
// with it (docs/contract.md §2–§4). Every byte here is part of the wire contract: links made by AList, by
// the original JavaScript workers and by this project must verify against each other, so the
// formulas mirror the original code exactly, including its JavaScript-isms (parseInt,
// JSON.stringify, decodeURIComponent).
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// macLen is the length of a base64url-with-padding HMAC-SHA256: 43 characters and one '='.
const macLen = 44

// Key is one HMAC key with its keyed state pooled: hmac.New re-hashes the key every time, and
// the proxy verifies five signatures per request.
type Key struct {
	pool sync.Pool
}

// NewKey prepares secret for signing and verifying.
func NewKey(secret string) *Key {
	k := &Key{}
	raw := []byte(secret)
	k.pool.New = func() any { return &keyedHash{h: hmac.New(sha256.New, raw)} }
	return k
}

// mac writes base64url(HMAC(data + ":" + expire)) into dst and returns it (macLen bytes).
func (k *Key) mac(dst *[macLen]byte, data []byte, expire int64) {
	kh := k.pool.Get().(*keyedHash)
	kh.h.Reset()
	kh.h.Write(data)
	tail := append(kh.tail[:0], ':')
	tail = strconv.AppendInt(tail, expire, 10)
	kh.h.Write(tail)
	sum := kh.h.Sum(kh.sum[:0])
	base64.URLEncoding.Encode(dst[:], sum)
	k.pool.Put(kh)
}

// keyedHash is a pooled HMAC with its scratch space: buffers handed to the hash.Hash
// interface escape, so they live here rather than on the stack of every call.
type keyedHash struct {
	h    hash.Hash
	tail [24]byte
	sum  [sha256.Size]byte
}

// Sign returns the AList signature of data: B64URL_PAD(HMAC(data:expire)) + ":" + expire.
func (k *Key) Sign(data string, expire int64) string {
	var m [macLen]byte
	k.mac(&m, stringBytes(data), expire)
	b := make([]byte, 0, macLen+1+20)
	b = append(b, m[:]...)
	b = append(b, ':')
	b = strconv.AppendInt(b, expire, 10)
	return string(b)
}

// Keyring holds the signing keys: the first signs, any verifies, so SIGN_SECRET can be rotated
// without invalidating links already handed out.
type Keyring struct {
	keys []*Key
}

// NewKeyring builds a keyring from SIGN_SECRET (comma separated, blanks dropped) or, when that
// is empty, TOKEN (used whole: AList tokens never contain commas, and AList signs with it).
func NewKeyring(signSecret, token string) (*Keyring, error) {
	var secrets []string
	if strings.TrimSpace(signSecret) != "" {
		for _, s := range strings.Split(signSecret, ",") {
			if s = strings.TrimSpace(s); s != "" {
				secrets = append(secrets, s)
			}
		}
	} else if token != "" {
		secrets = []string{token}
	}
	if len(secrets) == 0 {
		return nil, errors.New("no signing key: set SIGN_SECRET or TOKEN")
	}
	return NewKeyringFromSecrets(secrets...), nil
}

// NewKeyringFromSecrets builds a keyring from explicit keys, the first being the signing key.
func NewKeyringFromSecrets(secrets ...string) *Keyring {
	kr := &Keyring{}
	for _, s := range secrets {
		kr.keys = append(kr.keys, NewKey(s))
	}
	return kr
}

// Sign signs with the first key.
func (kr *Keyring) Sign(data string, expire int64) string { return kr.keys[0].Sign(data, expire) }

// Len is the number of keys.
func (kr *Keyring) Len() int { return len(kr.keys) }

// Error is a verification failure; Message is the exact text the services answer with.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// Messages are the answers of one verification, precomputed so a failed check allocates
// nothing.
type Messages struct {
	Missing, ExpireMissing, ExpireInvalid, Expired, Mismatch *Error
}

// LabelMessages are the proxy's messages for parameter label: "<label> missing" and so on.
func LabelMessages(label string) Messages {
	return Messages{
		Missing:       &Error{label + " missing"},
		ExpireMissing: &Error{label + " expire missing"},
		ExpireInvalid: &Error{label + " expire invalid"},
		Expired:       &Error{label + " expired"},
		Mismatch:      &Error{label + " mismatch"},
	}
}

// LandingMessages are the landing's bare messages for the incoming AList sign.
var LandingMessages = Messages{
	Missing:       &Error{"sign missing"},
	ExpireMissing: &Error{"expire missing"},
	ExpireInvalid: &Error{"expire invalid"},
	Expired:       &Error{"expire expired"},
	Mismatch:      &Error{"sign mismatch"},
}

// ParseExpire splits value at its last ':' and reads the tail as JavaScript's parseInt(tail, 10)
// does. It returns the expire, the tail and whether the tail is canonical (exactly what
// decimal(expire) prints); ok is false when the tail holds no digit.
func ParseExpire(value string) (expire int64, tail string, canonical, ok bool) {
	tail = value
	if i := strings.LastIndexByte(value, ':'); i >= 0 {
		tail = value[i+1:]
	}
	s := strings.TrimLeftFunc(tail, isJSSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, tail, false, false
	}
	v, err := strconv.ParseInt(s[:n], 10, 64)
	if err != nil {
		// Beyond int64: JavaScript would read a huge float whose decimal form differs from the
		// tail, so the value can only end as a mismatch. A far-future (or, negative, never)
		// expire is not expired, which is where such a value goes next.
		if neg {
			return -1, tail, false, true
		}
		return 1<<63 - 1, tail, false, true
	}
	if neg {
		v = -v
	}
	canonical = tail == strconv.FormatInt(v, 10)
	return v, tail, canonical, true
}

// Verify checks value as the signature of data at time now (Unix seconds), following docs/contract.md §2
// step by step, and returns the expire it carried. The comparison is constant time over every
// key in the ring.
func (kr *Keyring) Verify(msgs *Messages, value, data string, now int64) (int64, error) {
	return kr.verify(msgs, value, stringBytes(data), now)
}

func (kr *Keyring) verify(msgs *Messages, value string, data []byte, now int64) (int64, error) {
	if value == "" {
		return 0, msgs.Missing
	}
	i := strings.LastIndexByte(value, ':')
	tail := value
	if i >= 0 {
		tail = value[i+1:]
	}
	if tail == "" {
		return 0, msgs.ExpireMissing
	}
	expire, _, canonical, ok := ParseExpire(value)
	if !ok {
		return 0, msgs.ExpireInvalid
	}
	if expire > 0 && expire < now {
		return expire, msgs.Expired
	}
	given := value
	if i >= 0 {
		given = value[:i]
	}
	match := 0
	var m [macLen]byte
	for _, k := range kr.keys {
		k.mac(&m, data, expire)
		match |= subtle.ConstantTimeCompare(m[:], stringBytes(given))
	}
	if match != 1 || !canonical || i < 0 {
		return expire, msgs.Mismatch
	}
	return expire, nil
}

// isJSSpace is the white space JavaScript's parseInt skips (WhiteSpace and LineTerminator).
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}
