package sign

import "errors"

// notForged are the refusals of a signature the client did not present (missing) or presented
// correctly but too late (expired). A browser's automatic /favicon.ico carries no signature and
// an old bookmark expires: neither is an attack, so neither may count toward an auto-ban.
var notForged = func() map[*Error]bool {
	m := map[*Error]bool{ErrClientIPMissing: true, ErrAdditionalMissing: true, ErrAdditionalSignAbsent: true, ErrLinkExpired: true}
	for _, ms := range []*Messages{&signMsgs, &hashSignMsgs, &workerSignMsgs, &ipSignMsgs, &addInfoMsgs, &LandingMessages} {
		m[ms.Missing], m[ms.ExpireMissing], m[ms.Expired] = true, true, true
	}
	return m
}()

// Forged reports whether err refuses a signature that the client presented and that is wrong:
// a MAC mismatch, an unreadable expire, an additionalInfo that does not decode or does not
// match the path. Only those count toward BAN_AFTER_FAILS, and only their access lines match
// the fail2ban filter (logx.WrongSignature names the same set by its messages).
func Forged(err error) bool {
	var e *Error
	return errors.As(err, &e) && !notForged[e]
}
