package identity

import (
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkHashPassword: the cost of one login check (and of `user add`).
func BenchmarkHashPassword(b *testing.B) {
	b.Run("argon2id-m19456-t2-p1-hash", func(b *testing.B) {
		for b.Loop() {
			if _, err := HashPassword("correct horse battery"); err != nil {
				b.Fatal(err)
			}
		}
	})
	own, _ := HashPassword(vectorPassword)
	for name, enc := range map[string]string{
		"argon2id-m19456-t2-p1-verify": own,
		"argon2id-m65536-t3-p2-verify": vectorArgon2id,
		"bcrypt-10-verify":             vectorBcrypt,
	} {
		h, err := parseHash(enc)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if !h.verify(vectorPassword) {
					b.Fatal("no match")
				}
			}
		})
	}
	b.Run("bcrypt-10-hash", func(b *testing.B) {
		for b.Loop() {
			_, _ = bcrypt.GenerateFromPassword([]byte(vectorPassword), 10)
		}
	})
}

// BenchmarkSessionVerify: the check every request with a session cookie pays.
func BenchmarkSessionVerify(b *testing.B) {
	s := NewSessions(testKey, time.Hour)
	for name, id := range map[string]Identity{
		"2-groups":  {User: "alice", Groups: []string{"members", "staff"}, Source: SourceUsersFile},
		"no-groups": {User: "bob", Source: SourceAList},
		"largest":   fullIdentity(),
	} {
		value, _ := s.Issue(id, t0)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Verify(value, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
