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
	envFile := filepath.Join(dir, "upload.env")
	if err := os.WriteFile(envFile, []byte("UPLOAD_DIR="+filepath.Join(dir, "files")+"\nUPLOAD_SECRET=9b1d3f5a7c9e0b2d4f6a8c0e2b4d6f8a\nSQLITE_PATH="+filepath.Join(dir, "q.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENV_FILE", "")
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-check-config"}, 2, "UPLOAD_DIR is required"},
		{[]string{"-env-file", envFile, "-check-config"}, 0, "configuration ok"},
		{[]string{"-env-file", envFile, "migrate"}, 0, "up to date"},
		{[]string{"-env-file", envFile, "frobnicate"}, 2, "unknown command"},
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
