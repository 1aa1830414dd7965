package sign

import (
	"regexp"
	"testing"
)

// TestForged: exactly the refusals whose message ends in mismatch/invalid/failed are forged (the
// rule the fail2ban filter and logx.WrongSignature apply to the access line's reason), and no
// missing or expired signature is.
func TestForged(t *testing.T) {
	wrong := regexp.MustCompile(` (mismatch|invalid|failed)$`)
	all := []*Error{ErrClientIPMissing, ErrAdditionalMissing, ErrAdditionalSignAbsent, ErrAdditionalPath,
		ErrAdditionalExpire, ErrLinkExpired, ErrAdditionalDecode, ErrAdditionalInvalid}
	for _, ms := range []Messages{signMsgs, hashSignMsgs, workerSignMsgs, ipSignMsgs, addInfoMsgs, LandingMessages} {
		all = append(all, ms.Missing, ms.ExpireMissing, ms.ExpireInvalid, ms.Expired, ms.Mismatch)
	}
	forged := 0
	for _, e := range all {
		if got, want := Forged(e), wrong.MatchString(e.Message); got != want {
			t.Errorf("Forged(%q) = %v, want %v", e.Message, got, want)
		}
		if Forged(e) {
			forged++
		}
	}
	if forged == 0 || forged == len(all) {
		t.Fatalf("%d of %d forged", forged, len(all))
	}
	if Forged(nil) {
		t.Fatal("Forged(nil)")
	}
}
