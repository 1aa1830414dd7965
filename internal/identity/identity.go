// Package identity says who is downloading: a user name and groups, from one of three sources
// (a users file with password hashes, trusted forward-auth headers from an auth proxy, or
// AList's own accounts), and carries it between requests in a signed, self-contained session
// cookie. It decides nothing about access or quotas: the policy does, from the Identity.
package identity

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The sources an Identity can come from (Identity.Source).
const (
	SourceUsersFile   = "users-file"
	SourceForwardAuth = "forward-auth"
	SourceAList       = "alist"
)

// Limits on names, so an Identity always fits in one cookie (4 KiB in every browser) and in a
// link's signed additionalInfo: 32 groups of 64 bytes, a 64-byte user and the session's own
// fields stay under 3 KiB once encoded.
const (
	MaxNameLen = 64
	MaxGroups  = 32
)

// Identity is a visitor someone vouched for. Groups are valid, unique, in the order the
// source gave them.
type Identity struct {
	User   string
	Groups []string
	Source string
}

// Valid reports why id cannot be carried in a session (nil when it can). Identities made by
// this package's sources are always valid.
func (id Identity) Valid() error {
	if err := CheckName(id.User); err != nil {
		return fmt.Errorf("user: %w", err)
	}
	if sourceCode(id.Source) == 0 {
		return fmt.Errorf("source %q: accepted: %s, %s, %s", id.Source, SourceUsersFile, SourceForwardAuth, SourceAList)
	}
	if len(id.Groups) > MaxGroups {
		return fmt.Errorf("%d groups: at most %d", len(id.Groups), MaxGroups)
	}
	for i, g := range id.Groups {
		if err := CheckGroup(g); err != nil {
			return fmt.Errorf("group %d: %w", i+1, err)
		}
	}
	return nil
}

// InGroup reports whether id is a member of group.
func (id Identity) InGroup(group string) bool {
	for _, g := range id.Groups {
		if g == group {
			return true
		}
	}
	return false
}

var errEmptyName = errors.New("empty")

// CheckName accepts a user or group name: 1 to MaxNameLen bytes of valid UTF-8, printable
// characters only (a space inside, not at either end), so a name can be logged, shown on a page
// and put in a header without escaping surprises.
func CheckName(s string) error {
	switch {
	case s == "":
		return errEmptyName
	case len(s) > MaxNameLen:
		return fmt.Errorf("%d bytes: at most %d", len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case s[0] == ' ' || s[len(s)-1] == ' ':
		return errors.New("starts or ends with a space")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("contains %U, which is not a printable character", r)
		}
	}
	return nil
}

// CheckGroup is CheckName without commas: groups travel comma-separated in forward-auth
// headers, so a comma can never be part of one.
func CheckGroup(s string) error {
	if err := CheckName(s); err != nil {
		return err
	}
	if strings.ContainsRune(s, ',') {
		return errors.New("contains a comma")
	}
	return nil
}

func sourceCode(s string) byte {
	switch s {
	case SourceUsersFile:
		return 1
	case SourceForwardAuth:
		return 2
	case SourceAList:
		return 3
	}
	return 0
}

func sourceName(c byte) string {
	switch c {
	case 1:
		return SourceUsersFile
	case 2:
		return SourceForwardAuth
	case 3:
		return SourceAList
	}
	return ""
}
