package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "proxy.env")
	if err := os.WriteFile(envFile, []byte("ADDRESS=file://"+dir+"\nTOKEN=t\nWORKER_ADDRESS='https://dl.example.com'\nSQLITE_PATH="+filepath.Join(dir, "q.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("default = \"allow\"\n[matchers.office]\nkind = \"cidr\"\naddresses = [\"10.0.0.0/8\"]\n[[rules]]\nid = \"office\"\nwhen = \"office\"\naction = \"skip-ip\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[matchers.office]\nkind = \"cidr\"\naddresses = [\"10.0.0.0/33\"]\n[[rules]]\nid = \"x\"\nwhen = \"office and\"\naction = \"frobnicate\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withPolicy := func(file string) string {
		p := filepath.Join(dir, filepath.Base(file)+".env")
		b, _ := os.ReadFile(envFile)
		if err := os.WriteFile(p, append(b, []byte("POLICY_FILE="+file+"\nBLACKLIST_PREFIX=/private/\nBLACKLIST_ACTION=block\nIPSUBNET_WINDOWTIME_LIMIT=5\n")...), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("ENV_FILE", "")
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-check-config"}, 2, "ADDRESS is required"},
		{[]string{"-env-file", envFile, "-check-config"}, 0, "configuration ok"},
		{[]string{"-env-file", envFile, "migrate"}, 0, "up to date"},
		{[]string{"-env-file", envFile, "frobnicate"}, 2, "unknown command"},
		{[]string{"-env-file", envFile + ".missing"}, 2, "env file"},
		// The effective policy: the lists' rules first, then the file's.
		{[]string{"-env-file", withPolicy(good), "-check-config", "-print-policy"}, 0, `id = "env-blacklist"`},
		{[]string{"-env-file", withPolicy(good), "-check-config", "-print-policy"}, 0, `id = "office"`},
		{[]string{"-env-file", withPolicy(good), "-check-config", "-print-policy"}, 0, "# env-rate:     IPSUBNET_WINDOWTIME_LIMIT=5 requests"},
		{[]string{"-env-file", withPolicy(good), "-print-policy"}, 2, "-print-policy goes with -check-config"},
		// A broken file: every problem, each with its line.
		{[]string{"-env-file", withPolicy(bad), "-check-config"}, 2, "bad.toml:3:"},
		{[]string{"-env-file", withPolicy(bad), "-check-config"}, 2, "bad.toml:6:"},
		{[]string{"-env-file", withPolicy(bad), "-check-config"}, 2, "bad.toml:7:"},
	} {
		var out, errOut bytes.Buffer
		code := run(c.args, &out, &errOut)
		if code != c.code || !strings.Contains(out.String()+errOut.String(), c.out) {
			t.Errorf("%v: code %d, output %q %q", c.args, code, out.String(), errOut.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "q.db")); err != nil {
		t.Fatal("migrate did not create the database")
	}
}
