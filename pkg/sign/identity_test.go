package sign_test

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

// TestAdditionalInfoIdentity: without identity the encoding is the Workers'; with one, user and
// groups follow their three fields; both parsers read it; bad names are refused both ways.
func TestAdditionalInfoIdentity(t *testing.T) {
	h := sign.PathHash("/x")
	raw := func(a sign.AdditionalInfo) string {
		b, err := base64.RawStdEncoding.DecodeString(a.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := `{"pathHash":"` + h + `","filesize":42,"expireTime":7`
	for _, tc := range []struct {
		a    sign.AdditionalInfo
		want string
	}{
		{sign.AdditionalInfo{PathHash: h, FileSize: 42, ExpireTime: 7}, base + `}`},
		{sign.AdditionalInfo{PathHash: h, FileSize: 42, ExpireTime: 7, User: "al"}, base + `,"user":"al"}`},
		{sign.AdditionalInfo{PathHash: h, FileSize: 42, ExpireTime: 7, User: "al", Groups: []string{"staff", "class a"}},
			base + `,"user":"al","groups":["staff","class a"]}`},
		{sign.AdditionalInfo{PathHash: h, FileSize: 42, ExpireTime: 7, User: `a"b\c <&>`, Groups: []string{"ü"}},
			base + `,"user":"a\"b\\c <&>","groups":["ü"]}`},
	} {
		if got := raw(tc.a); got != tc.want {
			t.Errorf("encode %+v:\n got %s\nwant %s", tc.a, got, tc.want)
		}
		if err := tc.a.CheckIdentity(); err != nil {
			t.Errorf("%+v: %v", tc.a, err)
		}
		b, err := sign.DecodeAdditionalInfo(tc.a.Encode())
		if err != nil || !reflect.DeepEqual(b, tc.a) {
			t.Errorf("decode %s: %+v %v", tc.want, b, err)
		}
	}
	enc := func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
	// Forms the landing never writes but JSON allows: read by the general decoder.
	for in, want := range map[string]sign.AdditionalInfo{
		base + `,"groups":["g"],"user":"u"}`: {PathHash: h, FileSize: 42, ExpireTime: 7, User: "u", Groups: []string{"g"}},
		base + `,"user":"u","groups":[]}`:    {PathHash: h, FileSize: 42, ExpireTime: 7, User: "u"},
		base + `,"user":"\u00e9"}`:           {PathHash: h, FileSize: 42, ExpireTime: 7, User: "é"},
	} {
		if got, err := sign.DecodeAdditionalInfo(enc(in)); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	many := make([]string, sign.MaxGroups+1)
	for i := range many {
		many[i] = "g"
	}
	for _, bad := range []sign.AdditionalInfo{
		{User: "a\nb"}, {User: "a\x00"}, {User: "\x7f"}, {User: "\u0085"}, {User: "\xff"},
		{User: strings.Repeat("u", sign.MaxUserLen+1)},
		{User: "u", Groups: []string{strings.Repeat("g", sign.MaxGroupLen+1)}},
		{User: "u", Groups: []string{""}}, {User: "u", Groups: []string{"a\tb"}},
		{User: "u", Groups: many}, {Groups: []string{"g"}},
	} {
		bad.PathHash = h
		if bad.CheckIdentity() == nil {
			t.Errorf("CheckIdentity accepted %+v", bad)
		}
		if bad.User == "" {
			continue // encoded as anonymous
		}
		if got, err := sign.DecodeAdditionalInfo(bad.Encode()); err != sign.ErrAdditionalInvalid {
			t.Errorf("decode of %+v: %+v %v", bad, got, err)
		}
	}
	for _, in := range []string{base + `,"user":""}`, base + `,"groups":["g"]}`, base + `,"user":5}`, base + `,"user":"u","groups":"g"}`} {
		if _, err := sign.DecodeAdditionalInfo(enc(in)); err != sign.ErrAdditionalInvalid {
			t.Errorf("%s: %v", in, err)
		}
	}
	ok := strings.Repeat("u", sign.MaxUserLen)
	full := sign.AdditionalInfo{PathHash: h, User: ok, Groups: many[:sign.MaxGroups]}
	if got, err := sign.DecodeAdditionalInfo(full.Encode()); err != nil || !reflect.DeepEqual(got, full) {
		t.Fatalf("limits: %v", err)
	}
}

// TestChainIdentityTamper: an identity changed after signing fails additionalInfoSign.
func TestChainIdentityTamper(t *testing.T) {
	kr := sign.NewKeyringFromSecrets("k")
	info := &sign.AdditionalInfo{PathHash: sign.PathHash("/a"), FileSize: 1, ExpireTime: now + 60, User: "al", Groups: []string{"guests"}}
	p := kr.BuildParams("/a", "https://w", "192.0.2.1", 0, info)
	req := &sign.ChainRequest{Path: "/a", Params: p, ClientIP: "192.0.2.1", WorkerAddr: "https://w", Now: now}
	got, ok, err := kr.VerifyChain(req, sign.AllChecks)
	if err != nil || !ok || got.User != "al" || !reflect.DeepEqual(got.Groups, []string{"guests"}) {
		t.Fatalf("%+v %v %v", got, ok, err)
	}
	forged := *info
	forged.Groups = []string{"staff"}
	req.Params.AdditionalInfo = forged.Encode()
	if _, _, err := kr.VerifyChain(req, sign.AllChecks); err == nil || err.Error() != "additionalInfoSign mismatch" || !sign.Forged(err) {
		t.Fatalf("forged groups: %v", err)
	}
}
