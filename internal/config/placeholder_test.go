package config_test

import (
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/config"
)

func TestIsPlaceholder(t *testing.T) {
	placeholders := []string{
		// what .env.example and the Workers' READMEs ship
		"change-me-to-a-long-random-secret", "change-me-openssl-rand-hex-32", "change-me", "change-me-or-leave-unset",
		"your-alist-admin-token", "your-hmac-token", "your-actual-hmac-secret", "your-shared-hmac-token",
		"your-turnstile-site-key", "your-turnstile-secret-key", "change-me-url-safe", "replace-with-token",
		// other spellings people use
		"changeme", "CHANGE_ME", "ChangeMe123", "change_this_secret", " changeme ", "REPLACE_ME", "replace with your token",
		"<your token>", "<SIGN_SECRET>", "${SIGN_SECRET}", "{{ token }}", "[token]", "%TOKEN%",
		"xxx", "XXXXXXXXXXXXXXXX", "xxxx-xxxx-xxxx", "xxx-your-token", "***", "...", "…",
		"secret", "Secret", "password", "token", "example", "example-secret", "placeholder", "my_placeholder_value",
		"put-your-token-here", "secret_here", "insert-key-here", "none", "null", "undefined", "TODO", "fixme", "dummy",
	}
	for _, v := range placeholders {
		if !config.IsPlaceholder(v) {
			t.Errorf("%q is not recognised as a placeholder", v)
		}
	}
	real := []string{
		"", "9c1e5b0f7a3d4e2c8b6a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c", // openssl rand -hex 32
		"q3Zx9Lk2Vb8Nm4Hc7Tr1Yw6Ps0Dg5Jf==", "alist-3f6b2a1c-7d4e-4b8a-9c2e-5f1a0b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
		"0x4AAAAAAAB1cDeFgHiJkLmN", "0x4AAAAAAAB1cDeFgHiJkLmN-sEcReT0123456789", // Turnstile keys
		"1x00000000000000000000AA", "1x0000000000000000000000000000000AA", "2x00000000000000000000AB", // Cloudflare's test keys
		"k", "s", "old", "new", "graceful-key", "correct horse battery staple", "hunter2-but-longer-than-that",
		"xylophone-7Q", "yoghurt", "secret-key-1", "tokenizer-9f8e",
	}
	for _, v := range real {
		if config.IsPlaceholder(v) {
			t.Errorf("%q is taken for a placeholder", v)
		}
	}
}

// TestRandomKeysAreNotPlaceholders: keys made the recommended ways are never refused (a fixed
// seed: the same 30,000 keys every run).
func TestRandomKeysAreNotPlaceholders(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 8))
	b := make([]byte, 32)
	for i := 0; i < 10000; i++ {
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		for _, k := range []string{hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)} {
			if config.IsPlaceholder(k) {
				t.Fatalf("random key %q taken for a placeholder", k)
			}
		}
	}
}

func FuzzIsPlaceholder(f *testing.F) {
	for _, s := range []string{"change-me", "<x>", "xxx", "9c1e5b0f", "", "${A}", "…"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := config.IsPlaceholder(s)
		if strings.TrimSpace(s) == "" && got {
			t.Fatal("an empty value is unset, not a placeholder")
		}
		if got != config.IsPlaceholder("  "+s+"\t") {
			t.Fatalf("%q: surrounding blanks change the answer", s)
		}
		if isASCII(s) && got != config.IsPlaceholder(strings.ToUpper(s)) {
			t.Fatalf("%q: case changes the answer", s)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
