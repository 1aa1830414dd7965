package sign

import (
	"bytes"
	"unicode/utf8"
)

// The identity in additionalInfo (issue #17): the landing signs who the visitor is into the
// link, after the Workers' three fields, so the proxy's user and group rules and quotas read a
// name the client cannot change, on any replica, with no IP binding. The limits match
// pkg/policy's (MaxUserLen, MaxGroupLen, MaxGroups).
const (
	MaxUserLen  = 128 // bytes of a user name
	MaxGroupLen = 64  // bytes of a group name
	MaxGroups   = 32  // groups of one user
)

// ErrIdentity refuses a user or group name the link cannot carry.
var ErrIdentity = &Error{"additionalInfo identity invalid"}

// CheckIdentity refuses names that could not be logged or printed safely (control characters,
// invalid UTF-8), empty or too long names, too many groups, and groups without a user.
func (a AdditionalInfo) CheckIdentity() error {
	if a.User == "" {
		if len(a.Groups) > 0 {
			return ErrIdentity
		}
		return nil
	}
	if !ValidName(a.User, MaxUserLen) || len(a.Groups) > MaxGroups {
		return ErrIdentity
	}
	for _, g := range a.Groups {
		if !ValidName(g, MaxGroupLen) {
			return ErrIdentity
		}
	}
	return nil
}

// ValidName reports whether s can be a user (max MaxUserLen) or group (MaxGroupLen) name:
// non-empty UTF-8 without control characters, so it prints safely in logs and the admin CLI.
func ValidName(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
}

// appendIdentity writes ,"user":..,"groups":[..] (groups only when there are some), or nothing
// for an anonymous visitor.
func appendIdentity(b []byte, user string, groups []string) []byte {
	if user == "" {
		return b
	}
	b = append(b, `,"user":`...)
	b = AppendJSString(b, user)
	if len(groups) == 0 {
		return b
	}
	b = append(b, `,"groups":[`...)
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSString(b, g)
	}
	return append(b, ']')
}

// cutIdentity reads what appendIdentity writes, for names without escapes (anything else is
// left to the general decoder); rest is what follows.
func cutIdentity(b []byte, a *AdditionalInfo) (rest []byte, ok bool) {
	if b, ok = bytes.CutPrefix(b, []byte(`,"user":`)); !ok {
		return b, false
	}
	if a.User, b, ok = cutPlainString(b); !ok || a.User == "" {
		return b, false
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"groups":[`)); !ok {
		return b, true
	}
	for {
		var g string
		if g, b, ok = cutPlainString(b); !ok || len(a.Groups) == MaxGroups {
			return b, false
		}
		a.Groups = append(a.Groups, g)
		if len(b) > 0 && b[0] == ']' {
			return b[1:], true
		}
		if len(b) == 0 || b[0] != ',' {
			return b, false
		}
		b = b[1:]
	}
}

// cutPlainString reads a JSON string with no escape and no control byte.
func cutPlainString(b []byte) (string, []byte, bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", b, false
	}
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return string(b[1:i]), b[i+1:], true
		case c == '\\' || c < 0x20:
			return "", b, false
		}
	}
	return "", b, false
}
