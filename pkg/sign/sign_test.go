package sign_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

const now = 1761800000

func TestVerifySteps(t *testing.T) {
	kr := sign.NewKeyringFromSecrets("k")
	good := kr.Sign("/a", 0)
	mac := good[:strings.LastIndexByte(good, ':')]
	future := kr.Sign("/a", now+10)
	past := kr.Sign("/a", now-1)
	msgs := sign.LabelMessages("sign")
	for _, tc := range []struct{ name, value, want string }{
		{"ok", good, ""},
		{"ok future", future, ""},
		{"missing", "", "sign missing"},
		{"no colon no digits", "abc", "sign expire invalid"},
		{"no colon digits", "123", "sign expired"},
		{"no colon never expires", "-123", "sign mismatch"},
		{"empty tail", mac + ":", "sign expire missing"},
		{"not a number", mac + ":abc", "sign expire invalid"},
		{"parseInt prefix 0abc", mac + ":0abc", "sign mismatch"},
		{"leading zero", mac + ":00", "sign mismatch"},
		{"plus sign", mac + ":+0", "sign mismatch"},
		{"leading space", mac + ": 0", "sign mismatch"},
		{"expired", past, "sign expired"},
		{"expired before mac", "garbage:" + "5", "sign expired"},
		{"negative never expires", mac + ":-5", "sign mismatch"},
		{"huge", mac + ":99999999999999999999999", "sign mismatch"},
		{"huge negative", mac + ":-99999999999999999999999", "sign mismatch"},
		{"tampered", "A" + good[1:], "sign mismatch"},
		{"short mac", "abc:0", "sign mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kr.Verify(&msgs, tc.value, "/a", now)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
}

func TestKeyringRotation(t *testing.T) {
	old := sign.NewKeyringFromSecrets("old")
	kr, err := sign.NewKeyring(" new , old ,", "token")
	if err != nil {
		t.Fatal(err)
	}
	msgs := sign.LabelMessages("sign")
	if _, err := kr.Verify(&msgs, old.Sign("/f", 0), "/f", now); err != nil {
		t.Fatalf("old key refused: %v", err)
	}
	if kr.Sign("/f", 0) != sign.NewKeyringFromSecrets("new").Sign("/f", 0) {
		t.Fatal("does not sign with the first key")
	}
	if _, err := kr.Verify(&msgs, sign.NewKeyringFromSecrets("token").Sign("/f", 0), "/f", now); err == nil {
		t.Fatal("TOKEN accepted although SIGN_SECRET is set")
	}
	tok, _ := sign.NewKeyring("", "token")
	if tok.Sign("/f", 0) != sign.NewKeyringFromSecrets("token").Sign("/f", 0) {
		t.Fatal("no fallback to TOKEN")
	}
	if _, err := sign.NewKeyring(" , ", ""); err == nil {
		t.Fatal("empty keyring accepted")
	}
}

func TestRemoveDotSegments(t *testing.T) {
	for in, want := range map[string]string{
		"/x/y/%2e%2E/file.txt": "/x/file.txt",
		"/a/./b":               "/a/b",
		"/a/b/..":              "/a/",
		"/a/b/.":               "/a/b/",
		"/..":                  "/",
		"/../../a":             "/a",
		"//a//b":               "//a//b",
		"/a/%2E/b":             "/a/b",
		"/a/.%2e/b":            "/b",
		"/a/...":               "/a/...",
		"/a/..b":               "/a/..b",
		"/A/%2f/B":             "/A/%2f/B",
	} {
		if got := sign.RemoveDotSegments(in); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func TestDecodePath(t *testing.T) {
	for in, want := range map[string]string{
		"/a%20b":     "/a b",
		"/a+b":       "/a+b",
		"/%E4%B8%AD": "/中",
		"/%2F":       "//",
		"/%25":       "/%",
		"/bad%E4%B8": "",
		"/bad%zz":    "",
		"/bad%2":     "",
		"/%C0%AF":    "", // overlong '/'
		"/%ED%A0%80": "", // surrogate
		"/%00":       "/\x00",
	} {
		got, err := sign.DecodePath(in)
		if want == "" {
			if err == nil || err.Error() != "invalid path encoding" {
				t.Errorf("%q: got %q, %v; want invalid path encoding", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestSubnet(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		v4, v6 int
		want   string
	}{
		{"203.0.113.7", 32, 60, "203.0.113.7/32"},
		{"203.0.113.7", 24, 60, "203.0.113.0/24"},
		{"::ffff:203.0.113.7", 24, 60, "203.0.113.0/24"},
		{"2001:db8:85a3::8a2e:370:7334", 32, 60, "2001:db8:85a3:0:0:0:0:0/60"},
		{"2001:db8:85a3:1234::1", 32, 60, "2001:db8:85a3:1230:0:0:0:0/60"},
		{"fe80::1%eth0", 32, 128, "fe80:0:0:0:0:0:0:1/128"},
	} {
		if got := sign.Subnet(netip.MustParseAddr(tc.ip), tc.v4, tc.v6); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.ip, got, tc.want)
		}
	}
}

func TestJSString(t *testing.T) {
	got := string(sign.AppendJSString(nil, "<a>&\"\\\x01\x1f\x7f\u2028/"))
	want := `"<a>&\"\\\u0001\u001f` + "\x7f\u2028/" + `"`
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestAdditionalInfoRoundTrip(t *testing.T) {
	a := sign.AdditionalInfo{PathHash: sign.PathHash("/x"), FileSize: 42, ExpireTime: now}
	b, err := sign.DecodeAdditionalInfo(a.Encode())
	if err != nil || !reflect.DeepEqual(b, a) {
		t.Fatalf("got %+v %v", b, err)
	}
	if _, err := sign.DecodeAdditionalInfo("!!!"); err != sign.ErrAdditionalDecode {
		t.Fatalf("got %v", err)
	}
	if _, err := sign.DecodeAdditionalInfo("bm90IGpzb24"); err != sign.ErrAdditionalInvalid {
		t.Fatalf("got %v", err)
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://DL.Example.com":         "https://dl.example.com",
		"https://dl.example.com:443/sub": "https://dl.example.com",
		"http://dl.example.com:80":       "http://dl.example.com",
		"https://b.example.com:8443":     "https://b.example.com:8443",
		"http://[2001:DB8::1]:8080/x":    "http://[2001:db8::1]:8080",
	} {
		got, err := sign.Origin(in)
		if err != nil || got != want {
			t.Errorf("%q: got %q %v want %q", in, got, err, want)
		}
	}
	if _, err := sign.Origin("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}

func FuzzVerify(f *testing.F) {
	kr := sign.NewKeyringFromSecrets("fuzz-key", "second")
	f.Add("/a", kr.Sign("/a", 0), int64(0))
	f.Add("/a", "abc:", int64(5))
	f.Add("/中", "x:0abc", int64(-1))
	f.Add("", ":99999999999999999999", int64(1<<62))
	msgs := sign.LabelMessages("sign")
	f.Fuzz(func(t *testing.T, data, value string, expire int64) {
		// Never panics on arbitrary input, and a forged value never verifies.
		if _, err := kr.Verify(&msgs, value, data, now); err == nil && value != kr.Sign(data, mustExpire(value)) {
			t.Fatalf("non-canonical value %q verified", value)
		}
		// Sign-then-verify always succeeds when the expire is not in the past.
		if expire > 0 && expire < now {
			expire = -expire
		}
		if _, err := kr.Verify(&msgs, kr.Sign(data, expire), data, now); err != nil {
			t.Fatalf("sign-then-verify %q %d: %v", data, expire, err)
		}
		other := sign.NewKeyringFromSecrets(data + "k")
		if _, err := kr.Verify(&msgs, other.Sign(data, expire), data, now); err == nil && data+"k" != "fuzz-key" && data+"k" != "second" {
			t.Fatal("signature of another key verified")
		}
	})
}

func mustExpire(v string) int64 {
	e, _, _, _ := sign.ParseExpire(v)
	return e
}

func FuzzDecodePath(f *testing.F) {
	for _, s := range []string{"/a%20b", "/x/y/%2e%2E/file.txt", "/bad%E4%B8", "/%", "/a/../..", "/%C0%AF", "//./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		enc, dec, err := sign.RequestPath(raw)
		if err != nil {
			return
		}
		if !utf8.ValidString(dec) {
			t.Fatalf("decoded %q is not UTF-8", dec)
		}
		if strings.HasPrefix(raw, "/") && !strings.HasPrefix(enc, "/") {
			t.Fatalf("lost leading slash: %q -> %q", raw, enc)
		}
		// Dot-segment removal is idempotent.
		if again := sign.RemoveDotSegments(enc); again != enc {
			t.Fatalf("not idempotent: %q -> %q -> %q", raw, enc, again)
		}
		// Whatever the path, sign-then-verify of every derived parameter succeeds.
		kr := sign.NewKeyringFromSecrets("k")
		info := &sign.AdditionalInfo{PathHash: sign.PathHash(dec), FileSize: 1, ExpireTime: now + 10}
		p := kr.BuildParams(dec, "https://w", "192.0.2.1", 0, info)
		if _, _, err := kr.VerifyChain(&sign.ChainRequest{Path: dec, Params: p, ClientIP: "192.0.2.1", WorkerAddr: "https://w", Now: now}, sign.AllChecks); err != nil {
			t.Fatalf("chain for %q: %v", dec, err)
		}
	})
}

func FuzzDecodeAdditionalInfo(f *testing.F) {
	f.Add(sign.AdditionalInfo{PathHash: "x", FileSize: 1, ExpireTime: 2}.Encode())
	f.Add(sign.AdditionalInfo{PathHash: sign.PathHash("/a"), FileSize: 1, ExpireTime: 2, User: "al", Groups: []string{"staff", "a\"b"}}.Encode())
	f.Add(sign.AdditionalInfo{PathHash: sign.PathHash("/a"), FileSize: 1, ExpireTime: 2, User: "Zoë <z@x>"}.Encode())
	f.Add("eyJ9")
	f.Add("e30=")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := sign.DecodeAdditionalInfo(s)
		if err != nil {
			return
		}
		if a.CheckIdentity() != nil {
			t.Fatalf("decoded an identity CheckIdentity refuses: %+v", a)
		}
		if b, err := sign.DecodeAdditionalInfo(a.Encode()); err != nil || !reflect.DeepEqual(b, a) {
			t.Fatalf("re-encode of %+v: %+v %v", a, b, err)
		}
	})
}

// BenchmarkVerifyChain is the proxy's per-request signature work: five HMACs, the
// additionalInfo decode and the path hash.
func BenchmarkVerifyChain(b *testing.B) {
	kr := sign.NewKeyringFromSecrets("alist-token-0123456789abcdef")
	path := "/movies/2024/clip.mp4"
	info := &sign.AdditionalInfo{PathHash: sign.PathHash(path), FileSize: 734003200, ExpireTime: now + 3600}
	p := kr.BuildParams(path, "https://dl1.example.com", "203.0.113.7", 0, info)
	req := &sign.ChainRequest{Path: path, Params: p, ClientIP: "203.0.113.7", WorkerAddr: "https://dl1.example.com", Now: now}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := kr.VerifyChain(req, sign.AllChecks); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyChainReject is a tampered sign: the cheapest refusal.
func BenchmarkVerifyChainReject(b *testing.B) {
	kr := sign.NewKeyringFromSecrets("alist-token-0123456789abcdef")
	p := kr.BuildParams("/f", "https://w", "203.0.113.7", 0, nil)
	p.Sign = "A" + p.Sign[1:]
	req := &sign.ChainRequest{Path: "/f", Params: p, ClientIP: "203.0.113.7", WorkerAddr: "https://w", Now: now}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := kr.VerifyChain(req, sign.AllChecks); err == nil {
			b.Fatal("accepted")
		}
	}
}
