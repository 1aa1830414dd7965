package sign_test

import (
	stdpath "path"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

// alistClean is AList's utils.FixAndCleanPath, transcribed: the path AList serves for any
// path it is given (/api/fs/get, /api/fs/link, /d/...).
func alistClean(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return stdpath.Clean(p)
}

func TestServedPath(t *testing.T) {
	const refused = "\x00refused"
	for _, tc := range []struct {
		in           string
		alist, local string
	}{
		{"/pub/file.txt", "/pub/file.txt", "/pub/file.txt"},
		{"/", "/", "/"},
		// the cases: a `\` is a separator for AList, an ordinary byte on Linux
		{"/pub/..\\private/secret.txt", refused, "/pub/..\\private/secret.txt"},
		{"/pub\\..\\private/x", refused, "/pub\\..\\private/x"},
		{"/pub/x\\..", refused, "/pub/x\\.."},
		{"\\..\\private", refused, "/\\..\\private"},
		{"/x/<script>&\"quote\"\\back.txt", "/x/<script>&\"quote\"/back.txt", "/x/<script>&\"quote\"\\back.txt"},
		// `//` is collapsed by both (AList's path.Clean, the kernel)
		{"//private/x", "/private/x", "/private/x"},
		{"/a//b///c", "/a/b/c", "/a/b/c"},
		{"/pub\\\\x", "/pub/x", "/pub\\\\x"},
		// trailing `/`, `/.` and `/..`
		{"/pub/", "/pub", "/pub"},
		{"/pub/.", "/pub", "/pub"},
		{"/pub\\.", "/pub", "/pub\\."},
		{"/pub/..", refused, refused},
		{"/..", refused, refused},
		{"/pub\\..", refused, "/pub\\.."},
		{"/a/./b", "/a/b", "/a/b"},
		// not dot segments
		{"/a/...", "/a/...", "/a/..."},
		{"/a/..b/c", "/a/..b/c", "/a/..b/c"},
		{"/a/b..", "/a/b..", "/a/b.."},
		{"/a.../x", "/a.../x", "/a.../x"},
		{"/ .. /x", "/ .. /x", "/ .. /x"},
		// NUL is refused, other control bytes stay (vector control_chars)
		{"/ok.txt\x00", refused, refused},
		{"/ok.txt\x00.jpg", refused, refused},
		{"/ctl/a\x01b\bc\fd\te\nf\x7fg.txt", "/ctl/a\x01b\bc\fd\te\nf\x7fg.txt", "/ctl/a\x01b\bc\fd\te\nf\x7fg.txt"},
		{"rel/x", "/rel/x", "/rel/x"},
	} {
		for _, k := range []struct {
			kind sign.OriginKind
			want string
		}{{sign.OriginAList, tc.alist}, {sign.OriginLocal, tc.local}} {
			got, err := sign.ServedPath(tc.in, k.kind)
			if k.want == refused {
				if err != sign.ErrPathEncoding {
					t.Errorf("kind %d %q: got %q, %v; want invalid path encoding", k.kind, tc.in, got, err)
				}
				continue
			}
			if err != nil || got != k.want {
				t.Errorf("kind %d %q: got %q, %v; want %q", k.kind, tc.in, got, err, k.want)
			}
		}
	}
}

// TestServedPathNoAlloc: the common case (a clean path) costs no allocation on the hot path.
func TestServedPathNoAlloc(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		_, _ = sign.ServedPath("/movies/2024/clip.mp4", sign.OriginAList)
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// fuzzPolicies are policies whose decisions the fuzzer compares; prefixes with and without a
// trailing "/" and an except list, as in the issue.
var fuzzPolicies = func() []*policy.Policy {
	var out []*policy.Policy
	for _, l := range []policy.Lists{
		{BlacklistPrefix: "/private", BlacklistAction: "block", WhitelistPrefix: "/pub/",
			WhitelistAction: "skip-sign,skip-hash,skip-worker,skip-ip,skip-addition"},
		{ExceptPrefix: "/private", ExceptAction: "skip-sign-except"},
		{BlacklistPrefix: "/a/b/,/c", BlacklistAction: "block", ExceptPrefix: "/pub", ExceptAction: "block-except"},
	} {
		p, err := policy.New(l, policy.ProxyActions)
		if err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}()

// FuzzServedPath: for every decoded path ServedPath accepts, the served path is exactly the
// path AList serves (its own cleaning of the decoded path), so every policy decision made on
// it is the decision for the file AList will return: no input makes policy and origin
// disagree. Refusals happen only for the documented reasons (NUL, a ".." segment after `\` →
// `/`). The local kind is path.Clean of the path as given (`\` is a name byte).
func FuzzServedPath(f *testing.F) {
	for _, s := range []string{"/pub/..\\private/secret.txt", "/pub/..%5cprivate/secret.txt", "//private/x",
		"/pub/x/..", "/pub/.", "/a\\\\b", "/ctl/a\x01b", "/x\x00", "\\", "", "/a.../x", "/..\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, d string) {
		served, err := sign.ServedPath(d, sign.OriginAList)
		converted := strings.ReplaceAll(d, "\\", "/")
		mustRefuse := strings.Contains(d, "\x00") || hasDotDot(converted)
		if err != nil {
			if !mustRefuse {
				t.Fatalf("%q refused (%v) for no documented reason", d, err)
			}
			return
		}
		if mustRefuse {
			t.Fatalf("%q accepted as %q", d, served)
		}
		ref := alistClean(d)
		if served != ref {
			t.Fatalf("%q: served %q, AList serves %q", d, served, ref)
		}
		for i, p := range fuzzPolicies {
			if a, b := p.Match(served), p.Match(ref); a != b {
				t.Fatalf("policy %d: %q decided %b, AList's path %q decides %b", i, d, a, ref, b)
			}
		}
		// A served path is a fixed point: asking AList for it serves it again.
		if again, err := sign.ServedPath(served, sign.OriginAList); err != nil || again != served {
			t.Fatalf("%q -> %q -> %q, %v", d, served, again, err)
		}

		local, err := sign.ServedPath(d, sign.OriginLocal)
		if strings.Contains(d, "\x00") || hasDotDot(d) {
			if err == nil {
				t.Fatalf("local %q accepted as %q", d, local)
			}
			return
		}
		if err != nil || local != stdpath.Clean("/"+strings.TrimPrefix(d, "/")) {
			t.Fatalf("local %q: %q, %v", d, local, err)
		}
	})
}

func hasDotDot(p string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == ".." {
			return true
		}
	}
	return false
}

func BenchmarkServedPath(b *testing.B) {
	for _, p := range []string{"/movies/2024/clip.mp4", "/a//b\\c/./d.txt"} {
		b.Run(strings.NewReplacer("/", "_", "\\", "-").Replace(p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = sign.ServedPath(p, sign.OriginAList)
			}
		})
	}
}
