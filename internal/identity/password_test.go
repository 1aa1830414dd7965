package identity

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Hashes made by other tools, so the file accepts what operators paste:
//
//	echo -n 'correct horse battery' | argon2 saltsaltsalt0123 -id -t 3 -m 16 -p 2 -e
//	htpasswd -nbB -C 10 alice 'correct horse battery'
const (
	vectorPassword = "correct horse battery"
	vectorArgon2id = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0MDEyMw$lK8MxPSY/AAyEHnrjT/ZmvJznv52cjrCAqgMbv6lqqk"
	vectorBcrypt   = "$2y$10$yACgpkByEpaqXeKNqqBKOeWdmsEBiAIYht0bRHVy5RV6.nICjk9xG"
)

func TestHashPassword(t *testing.T) {
	a, err := HashPassword("s3cret-pass")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HashPassword("s3cret-pass")
	if a == b {
		t.Error("two hashes of one password are equal: no random salt")
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("format: %s", a)
	}
	h, err := parseHash(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.salt) != 16 || len(h.key) != 32 {
		t.Errorf("salt %d key %d bytes", len(h.salt), len(h.key))
	}
	if !h.verify("s3cret-pass") || h.verify("s3cret-pasS") || h.verify("") {
		t.Error("verify")
	}
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordLen+1)); err == nil {
		t.Error("oversized password hashed")
	}
}

// TestForeignHashes: hashes from the reference argon2 CLI and Apache's htpasswd verify.
func TestForeignHashes(t *testing.T) {
	for _, enc := range []string{vectorArgon2id, vectorBcrypt} {
		h, err := parseHash(enc)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		if !h.verify(vectorPassword) || h.verify(vectorPassword+" ") {
			t.Errorf("%s: verify", h.kind)
		}
	}
}

func TestParseHashRefusals(t *testing.T) {
	cost4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	good := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0MDEyMw$lK8MxPSY/AAyEHnrjT/ZmvJznv52cjrCAqgMbv6lqqk"
	for _, c := range []struct{ in, want string }{
		{"hunter2-plain", "plain passwords are refused"},
		{"", "plain passwords are refused"},
		{"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "only argon2id"},
		{"$5$rounds=5000$salt$hash", "unknown hash scheme"},
		{string(cost4), "bcrypt cost 4: accepted 10 to 14"},
		{"$2b$10$short", "not a well-formed bcrypt hash"},
		{strings.Replace(good, "v=19", "v=16", 1), "version must be v=19"},
		{strings.Replace(good, "m=19456", "m=6553600", 1), "accepted m 8·p to 262144 KiB"},
		{strings.Replace(good, "t=2", "t=0", 1), "t 1 to 10"},
		{strings.Replace(good, "p=1", "p=x", 1), "must be m=<KiB>,t=<passes>,p=<lanes>"},
		{strings.Replace(good, ",p=1", "", 1), "must be m=<KiB>,t=<passes>,p=<lanes>"},
		{strings.Replace(good, "$c2Fs", "$!!Fs", 1), "unpadded standard base64"},
		{good[:strings.LastIndex(good, "$")+1] + "aGFzaGhhc2g", "hash 16 to 64 bytes"},
		{good + "$x", "want 5 fields"},
	} {
		_, err := parseHash(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.30q: %v, want %q", c.in, err, c.want)
		}
		if err != nil && len(c.in) > 3 && strings.Contains(err.Error(), c.in) {
			t.Errorf("the error repeats the value: %v", err)
		}
	}
	if _, err := parseHash(good); err != nil {
		t.Errorf("good hash: %v", err)
	}
}

// TestDummyLike: the hash an unknown user is checked against costs what the pattern costs.
func TestDummyLike(t *testing.T) {
	for _, enc := range []string{vectorArgon2id, vectorBcrypt} {
		h, _ := parseHash(enc)
		d := dummyLike(h)
		if d.params() != h.params() {
			t.Errorf("dummy %s, want %s", d.params(), h.params())
		}
		if d.kind == "bcrypt" {
			if _, err := parseHash(d.encoded); err != nil {
				t.Errorf("dummy bcrypt does not parse: %v", err)
			}
		}
		if d.verify(vectorPassword) || d.verify("") {
			t.Error("the dummy matched a password")
		}
	}
	if d := dummyLike(&pwHash{}); d.params() != "argon2id m=19456,t=2,p=1,k=32" {
		t.Errorf("default dummy: %s", d.params())
	}
}
