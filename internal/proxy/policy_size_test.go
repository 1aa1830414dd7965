package proxy

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/pkg/sign"
)

// A size matcher believes only a signed size (docs/contract.md, differences): when a decision
// consulted one, the link's additionalInfo is verified whatever the rule or ADDITION_CHECK says.

const sizePolicy = `default = "allow"
[matchers.big]
kind = "size"
min = "2MB"
[matchers.open]
kind = "path"
prefixes = ["/open/"]
[[rules]]
id = "big-closed"
when = "big"
action = "deny"
[[rules]]
id = "open"
when = "open"
action = "skip-addition"
`

func TestSizeMatcherBelievesOnlySignedSize(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.toml")
	if err := writeFile(file, sizePolicy); err != nil {
		t.Fatal(err)
	}
	const big = 5 << 20
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"addition check on", map[string]string{"POLICY_FILE": file}},
		{"ADDITION_CHECK=false", map[string]string{"POLICY_FILE": file, "ADDITION_CHECK": "false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{env: tc.env})
			e.put("/f.bin", []byte(strings.Repeat("b", 1024)))
			e.put("/open/f.bin", []byte(strings.Repeat("b", 1024)))

			// The signed size decides.
			if r := e.get(uriOf("/f.bin", e.params("/f.bin", testIP, big))); r.status != http.StatusForbidden {
				t.Fatalf("signed 5MB: %d %s", r.status, r.body)
			}
			if r := e.get(uriOf("/f.bin", e.params("/f.bin", testIP, 1024))); r.status != http.StatusOK {
				t.Fatalf("signed 1KB: %d %s", r.status, r.body)
			}
			// A claimed size that was not signed is a wrong signature, not a way past the rule.
			forged := e.params("/f.bin", testIP, big)
			info, err := sign.DecodeAdditionalInfo(forged.AdditionalInfo)
			if err != nil {
				t.Fatal(err)
			}
			info.FileSize = 1024
			forged.AdditionalInfo = info.Encode()
			if r := e.get(uriOf("/f.bin", forged)); r.status != http.StatusUnauthorized {
				t.Fatalf("forged size: %d %s", r.status, r.body)
			}
			// skip-addition does not turn it off for a rule reached past a size matcher...
			if r := e.get(uriOf("/open/f.bin", e.params("/open/f.bin", testIP, big))); r.status != http.StatusForbidden {
				t.Fatalf("open path, signed 5MB: %d %s", r.status, r.body)
			}
			forged = e.params("/open/f.bin", testIP, big)
			info, _ = sign.DecodeAdditionalInfo(forged.AdditionalInfo)
			info.FileSize = 1024
			forged.AdditionalInfo = info.Encode()
			if r := e.get(uriOf("/open/f.bin", forged)); r.status != http.StatusUnauthorized {
				t.Fatalf("open path, forged size: %d %s", r.status, r.body)
			}
			// ...and a link stripped of its additionalInfo, or with a garbled one, is refused
			// whatever ADDITION_CHECK and skip-addition say: its size would be unknown.
			for _, p := range []string{"/f.bin", "/open/f.bin"} {
				stripped := e.params(p, testIP, big)
				stripped.AdditionalInfo, stripped.AdditionalInfoSign = "", ""
				if r := e.get(uriOf(p, stripped)); r.status != http.StatusUnauthorized {
					t.Fatalf("%s without additionalInfo: %d %s", p, r.status, r.body)
				}
				garbled := e.params(p, testIP, big)
				garbled.AdditionalInfo = "!!garbage"
				if r := e.get(uriOf(p, garbled)); r.status != http.StatusUnauthorized {
					t.Fatalf("%s with a garbled additionalInfo: %d %s", p, r.status, r.body)
				}
			}
		})
	}
}
