package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// HashPassword's argon2id parameters: OWASP's first recommended set (m=19 MiB, t=2, p=1). The
// landing runs on small machines (2 cores here) and hashes on the request path: 19 MiB per
// login lets the four concurrent verifications Users allows stay under 80 MiB, and t=2 keeps
// one hash in the tens of milliseconds (see BenchmarkHashPassword). Hashes written by other tools
// with m=65536,t=3,p=2 verify as well; verification uses the parameters stored in each hash.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters a stored hash may ask for: a hash is read from a file at load time,
// and a typo (m=6553600) must not turn every login into a 6 GiB allocation.
const (
	maxArgonMemory  = 256 * 1024 // KiB
	maxArgonTime    = 10
	maxArgonThreads = 16
	minBcryptCost   = 10
	maxBcryptCost   = 14
	// MaxPasswordLen bounds what is hashed; a longer password is wrong without any work.
	MaxPasswordLen = 1024
	// MinPasswordLen is what `user add` accepts (OWASP's minimum).
	MinPasswordLen = 8
)

const acceptedHashes = `an argon2id PHC string "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>" ` +
	`or a bcrypt hash "$2a$", "$2b$" or "$2y$" (cost 10 to 14)`

// verifications counts password checks; tests read it to prove an unknown user costs one.
var verifications atomic.Int64

// pwHash is a parsed stored password hash.
type pwHash struct {
	kind    string // "argon2id" or "bcrypt"
	encoded string // bcrypt: the whole string
	// argon2id
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// params names the cost of h; two hashes with equal params take equal time to verify.
func (h *pwHash) params() string {
	if h.kind == "bcrypt" {
		c, _ := bcrypt.Cost([]byte(h.encoded))
		return "bcrypt " + strconv.Itoa(c)
	}
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,k=%d", h.memory, h.time, h.threads, len(h.key))
}

// HashPassword hashes password with argon2id and a random salt, in the PHC string format
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded standard base64).
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("password longer than %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return encodeArgon2id(password, salt, argonMemory, argonTime, argonThreads, argonKeyLen), nil
}

func encodeArgon2id(password string, salt []byte, m, t uint32, p uint8, keyLen uint32) string {
	key := argon2.IDKey([]byte(password), salt, t, m, p, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parseHash reads a stored hash; its error never repeats the value (it may be a plain
// password someone pasted).
func parseHash(s string) (*pwHash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil || len(s) != 60 {
			return nil, errors.New("not a well-formed bcrypt hash (60 characters, \"$2b$10$\" + 53)")
		}
		if cost < minBcryptCost || cost > maxBcryptCost {
			return nil, fmt.Errorf("bcrypt cost %d: accepted 10 to 14", cost)
		}
		return &pwHash{kind: "bcrypt", encoded: s}, nil
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("argon2i and argon2d are not accepted, only argon2id")
	case strings.HasPrefix(s, "$"):
		return nil, errors.New("unknown hash scheme")
	}
	return nil, errors.New("not a hash: plain passwords are refused")
}

func parseArgon2id(s string) (*pwHash, error) {
	bad := func(what string) (*pwHash, error) {
		return nil, fmt.Errorf("malformed argon2id hash: %s", what)
	}
	parts := strings.Split(s, "$") // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 {
		return bad("want 5 fields separated by $")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version must be v=19")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("parameters must be m=<KiB>,t=<passes>,p=<lanes>")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, err := strconv.ParseUint(strings.TrimPrefix(kv[i], name), 10, 32)
		if !strings.HasPrefix(kv[i], name) || err != nil {
			return bad("parameters must be m=<KiB>,t=<passes>,p=<lanes>")
		}
		vals[i] = v
	}
	m, t, p := vals[0], vals[1], vals[2]
	if p < 1 || p > maxArgonThreads || t < 1 || t > maxArgonTime || m < 8*p || m > maxArgonMemory {
		return nil, fmt.Errorf("argon2id parameters m=%d,t=%d,p=%d: accepted m 8·p to %d KiB, t 1 to %d, p 1 to %d",
			m, t, p, maxArgonMemory, maxArgonTime, maxArgonThreads)
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return bad("salt and hash must be unpadded standard base64")
	}
	if len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return bad("salt must be 8 to 64 bytes and hash 16 to 64 bytes")
	}
	return &pwHash{kind: "argon2id", memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// verify checks password against h; it always does the full work of h's parameters.
func (h *pwHash) verify(password string) bool {
	verifications.Add(1)
	if h.kind == "bcrypt" {
		return bcrypt.CompareHashAndPassword([]byte(h.encoded), []byte(password)) == nil
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// dummyLike is a hash with h's parameters for a password nobody knows: an unknown user name is
// checked against it, so it costs what a known one does.
func dummyLike(h *pwHash) *pwHash {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if h.kind == "bcrypt" {
		// A well-formed hash with a random salt and digest: checking it costs a full bcrypt
		// of that cost, and building it costs nothing (no bcrypt run at load).
		const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b := []byte(h.encoded[:7]) // "$2b$10$"
		for _, c := range secret[:] {
			b = append(b, alphabet[int(c)%64])
		}
		extra := make([]byte, 53-len(secret))
		_, _ = rand.Read(extra)
		for _, c := range extra {
			b = append(b, alphabet[int(c)%64])
		}
		return &pwHash{kind: "bcrypt", encoded: string(b)}
	}
	if h.kind != "argon2id" {
		h = &pwHash{memory: argonMemory, time: argonTime, threads: argonThreads, salt: make([]byte, argonSaltLen), key: make([]byte, argonKeyLen)}
	}
	salt := make([]byte, len(h.salt))
	_, _ = rand.Read(salt)
	// The key is random, not derived: no password matches it, and building it costs nothing.
	key := make([]byte, len(h.key))
	_, _ = rand.Read(key)
	return &pwHash{kind: "argon2id", memory: h.memory, time: h.time, threads: h.threads, salt: salt, key: key}
}
