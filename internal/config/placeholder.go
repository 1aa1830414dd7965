package config

import (
	"net/url"
	"strconv"
	"strings"
)

// A secret copied from an example and never replaced starts the service happily and then
// fails every request in a way that does not point at the cause (SIGN_SECRET=change-me… makes
// every AList link "sign mismatch"). So every secret-like value is checked at load time, and
// -check-config fails on it like on any other problem.

// placeholderWords are whole values (lower case, separators removed) that are never a real
// secret.
var placeholderWords = map[string]bool{
	"secret": true, "password": true, "passwd": true, "token": true, "key": true, "apikey": true,
	"sample": true, "placeholder": true, "dummy": true, "todo": true, "tbd": true,
	"fixme": true, "none": true, "null": true, "nil": true, "undefined": true, "mysecret": true, "mytoken": true, "mypassword": true, "supersecret": true,
}

// placeholderPrefixes start example values ("change-me-to-…", "your-alist-token",
// "replace_with_…"); compared without separators, so change_me and ChangeMe match too.
var placeholderPrefixes = []string{"changeme", "changethis", "changeit", "replace", "your", "insert", "putyour",
	"enteryour", "fillin", "example"}

// IsPlaceholder reports whether v looks like an example value left in place rather than a
// real secret: change-me…, your-…, replace…, <…>, ${…}, {{…}}, [..], xxx…, ***, a bare word such
// as "secret" or "example", or "…-here" naming a token, key, secret or password. An empty
// value is not a placeholder (it is unset). Random keys (openssl rand -hex 32, base64) and
// Cloudflare's Turnstile test keys (1x00…AA) never match.
func IsPlaceholder(v string) bool {
	n := strings.ToLower(strings.TrimSpace(v))
	if n == "" {
		return false
	}
	for _, w := range [][2]string{{"<", ">"}, {"${", "}"}, {"{{", "}}"}, {"[", "]"}, {"%", "%"}} {
		if len(n) > len(w[0])+len(w[1]) && strings.HasPrefix(n, w[0]) && strings.HasSuffix(n, w[1]) {
			return true
		}
	}
	if strings.Trim(n, "x*.…-_# ") == "" { // xxxxxxxx, ***, ..., xxxx-xxxx
		return true
	}
	if strings.HasPrefix(n, "xxx-") || strings.HasPrefix(n, "xxx_") {
		return true
	}
	compact := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ', '\t':
			return -1
		}
		return r
	}, n)
	if placeholderWords[compact] || strings.Contains(compact, "placeholder") {
		return true
	}
	for _, p := range placeholderPrefixes {
		if strings.HasPrefix(compact, p) {
			return true
		}
	}
	if strings.HasSuffix(compact, "here") {
		for _, w := range []string{"token", "secret", "key", "password"} {
			if strings.Contains(compact, w) {
				return true
			}
		}
	}
	return false
}

// checkPlaceholder records a problem when value (a comma list when list is true) holds a
// placeholder. The value itself is never echoed: a misjudged real secret must not reach a log.
func checkPlaceholder(p *Problems, name, value string, list bool, hint string) {
	items := []string{value}
	if list {
		items = splitList(value)
	}
	for i, item := range items {
		if !IsPlaceholder(item) {
			continue
		}
		which := name
		if len(items) > 1 {
			which = name + " (item " + strconv.Itoa(i+1) + " of " + strconv.Itoa(len(items)) + ")"
		}
		p.Addf("%s holds a placeholder from an example (change-me…, your-…, <…>, xxx…): %s", which, hint)
	}
}

// checkDatabaseURL looks at the password inside DATABASE_URL (URL or key=value form).
func checkDatabaseURL(p *Problems, dsn string) {
	pw := ""
	if u, err := url.Parse(strings.TrimSpace(dsn)); err == nil && u.User != nil {
		pw, _ = u.User.Password()
	} else {
		for _, f := range strings.Fields(dsn) {
			if v, ok := strings.CutPrefix(f, "password="); ok {
				pw = strings.Trim(v, `'"`)
			}
		}
	}
	if IsPlaceholder(pw) {
		p.Addf("DATABASE_URL: its password is a placeholder from an example: put the database user's real password in the URL (docker compose: set POSTGRES_PASSWORD)")
	}
}
