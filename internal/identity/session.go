package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CookieName is the session cookie's name.
const CookieName = "alist_edge_session"

// MinSessionKeyLen is the shortest key NewSessions accepts (256 bits).
const MinSessionKeyLen = 32

// Errors of Sessions.Verify; each means "not logged in".
var (
	ErrSessionMalformed = errors.New("session: malformed value")
	ErrSessionForged    = errors.New("session: signature does not match")
	ErrSessionExpired   = errors.New("session: expired")
)

// The value is base64url (unpadded) of payload || HMAC-SHA256(payload):
//
//	version(1)=1 | sid(16) | issued(8, unix s) | expires(8, unix s) | source(1) |
//	len(1) user | count(1) [len(1) group]...
const (
	sessionVersion = 1
	sidLen         = 16
	fixedLen       = 1 + sidLen + 8 + 8 + 1
	macLen         = sha256.Size
	maxRawLen      = fixedLen + 1 + MaxNameLen + 1 + MaxGroups*(1+MaxNameLen) + macLen
	maxValueLen    = (maxRawLen*8 + 5) / 6
	// futureSkew is how far ahead of this server's clock another replica may have issued a
	// session.
	futureSkew = time.Minute
)

// strictB64 refuses non-zero padding bits, so one session has exactly one spelling.
var strictB64 = base64.RawURLEncoding.Strict()

// Sessions issues and checks session cookie values. A value is self-contained: any replica
// with the same key verifies it without a database. It cannot be revoked by itself: Verify
// returns the session id, and the caller refuses ids listed as ended (logout, an admin's
// "end session"), a list kept in the database.
type Sessions struct {
	key  []byte
	ttl  time.Duration
	pool sync.Pool // *verifyBuf
}

type verifyBuf struct {
	src [maxValueLen]byte
	raw [maxRawLen]byte
	sum [macLen]byte
	mac hash.Hash
}

// NewSessions uses key (at least MinSessionKeyLen bytes; shorter panics, as a configuration
// error the caller validates first) for sessions that last ttl. The MAC key is derived from
// key for this purpose only, so sharing key with another signer cannot make one's signatures
// pass as the other's. A ttl shorter than a session's recorded lifetime wins, so lowering
// SESSION_TTL shortens sessions already issued.
func NewSessions(key []byte, ttl time.Duration) *Sessions {
	if len(key) < MinSessionKeyLen {
		panic(fmt.Sprintf("identity: session key of %d bytes, want at least %d", len(key), MinSessionKeyLen))
	}
	if ttl < time.Second {
		panic("identity: session ttl under a second")
	}
	d := hmac.New(sha256.New, key)
	d.Write([]byte("alist-edge session v1"))
	s := &Sessions{key: d.Sum(nil), ttl: ttl}
	s.pool.New = func() any { return &verifyBuf{mac: hmac.New(sha256.New, s.key)} }
	return s
}

// Issue makes a session for id from now on, and its id (32 hex digits, random). An invalid
// id (see Identity.Valid) gives "", "": a caller treats it as a failed login.
func (s *Sessions) Issue(id Identity, now time.Time) (value string, sid string) {
	if id.Valid() != nil {
		return "", ""
	}
	var sidBytes [sidLen]byte
	if _, err := rand.Read(sidBytes[:]); err != nil {
		return "", ""
	}
	issued := now.Unix()
	b := make([]byte, 0, maxRawLen)
	b = append(b, sessionVersion)
	b = append(b, sidBytes[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(issued))
	b = binary.BigEndian.AppendUint64(b, uint64(issued+int64(s.ttl/time.Second)))
	b = append(b, sourceCode(id.Source), byte(len(id.User)))
	b = append(b, id.User...)
	b = append(b, byte(len(id.Groups)))
	for _, g := range id.Groups {
		b = append(b, byte(len(g)))
		b = append(b, g...)
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	b = m.Sum(b)
	return base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(sidBytes[:])
}

// Verify checks value's signature (in constant time), encoding and expiry at now, and returns
// the identity and the session id. The caller must still refuse a sid that was ended.
func (s *Sessions) Verify(value string, now time.Time) (Identity, string, error) {
	if len(value) < (fixedLen+3+macLen)*4/3 || len(value) > maxValueLen {
		return Identity{}, "", ErrSessionMalformed
	}
	buf := s.pool.Get().(*verifyBuf)
	defer s.pool.Put(buf)
	src := buf.src[:copy(buf.src[:], value)]
	n, err := strictB64.Decode(buf.raw[:], src)
	if err != nil || n < fixedLen+2+macLen {
		return Identity{}, "", ErrSessionMalformed
	}
	payload, mac := buf.raw[:n-macLen], buf.raw[n-macLen:n]
	buf.mac.Reset()
	buf.mac.Write(payload)
	if !hmac.Equal(buf.mac.Sum(buf.sum[:0]), mac) {
		return Identity{}, "", ErrSessionForged
	}
	id, sid, issued, expires, ok := decodePayload(payload)
	if !ok {
		return Identity{}, "", ErrSessionMalformed
	}
	t := now.Unix()
	switch {
	case t >= expires || t >= issued+int64(s.ttl/time.Second):
		return Identity{}, "", ErrSessionExpired
	case issued > t+int64(futureSkew/time.Second):
		return Identity{}, "", fmt.Errorf("%w: issued %ds in the future", ErrSessionExpired, issued-t)
	}
	return id, sid, nil
}

// decodePayload reads a signed payload. The user, groups and sid share one string, so a
// successful Verify costs two allocations (one without groups).
func decodePayload(p []byte) (id Identity, sid string, issued, expires int64, ok bool) {
	if p[0] != sessionVersion {
		return
	}
	issued = int64(binary.BigEndian.Uint64(p[1+sidLen:]))
	expires = int64(binary.BigEndian.Uint64(p[1+sidLen+8:]))
	source := sourceName(p[fixedLen-1])
	rest := p[fixedLen:]
	// First pass: check the layout and the total length.
	ulen := int(rest[0])
	if ulen == 0 || ulen > MaxNameLen || len(rest) < 1+ulen+1 {
		return
	}
	count := int(rest[1+ulen])
	total := hex.EncodedLen(sidLen) + ulen
	for i, at := 0, 2+ulen; i < count; i++ {
		if at >= len(rest) {
			return
		}
		glen := int(rest[at])
		if glen == 0 || glen > MaxNameLen || at+1+glen > len(rest) {
			return
		}
		total += glen
		at += 1 + glen
		if i == count-1 && at != len(rest) {
			return
		}
	}
	if source == "" || count > MaxGroups || (count == 0 && len(rest) != 2+ulen) {
		return
	}
	var sb strings.Builder
	sb.Grow(total)
	var sidHex [2 * sidLen]byte
	hex.Encode(sidHex[:], p[1:1+sidLen])
	sb.Write(sidHex[:])
	sb.Write(rest[1 : 1+ulen])
	for i, at := 0, 2+ulen; i < count; i++ {
		glen := int(rest[at])
		sb.Write(rest[at+1 : at+1+glen])
		at += 1 + glen
	}
	all := sb.String()
	sid, id.User, id.Source = all[:2*sidLen], all[2*sidLen:2*sidLen+ulen], source
	if count > 0 {
		id.Groups = make([]string, count)
		off := 2*sidLen + ulen
		for i, at := 0, 2+ulen; i < count; i++ {
			glen := int(rest[at])
			id.Groups[i] = all[off : off+glen]
			off += glen
			at += 1 + glen
		}
	}
	return id, sid, issued, expires, true
}

// Cookie carries a session value: HttpOnly (no script reads it), SameSite=Lax (sent when a
// visitor follows a link to the landing, not on cross-site posts), Secure when the landing is
// reached over TLS, for the whole site, for ttl.
func Cookie(value string, secure bool, ttl time.Duration) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// ClearCookie removes the session cookie (logout); it must carry the same attributes to
// replace the one the browser holds. The sid must also be listed as ended: a copy of the value
// kept elsewhere would otherwise still verify.
func ClearCookie(secure bool) *http.Cookie {
	return &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}
