package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/config"
)

func TestEnvFile(t *testing.T) {
	src := `# comment
export A=1
B = two words
C='single # kept'
D="double"
E=
F=x=y
`
	got, err := config.ParseEnvFile("test.env", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": "double", "E": "", "F": "x=y"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, err := config.ParseEnvFile("bad.env", strings.NewReader("not a pair")); err == nil {
		t.Fatal("accepted a line without =")
	}
	// The file wins over the environment.
	file := t.TempDir() + "/proxy.env"
	if err := os.WriteFile(file, []byte("ALIST_EDGE_TEST_VAR=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALIST_EDGE_TEST_VAR", "from-env")
	env, err := config.LoadEnviron(file)
	if err != nil || env["ALIST_EDGE_TEST_VAR"] != "from-file" {
		t.Fatalf("got %q %v", env["ALIST_EDGE_TEST_VAR"], err)
	}
	if _, err := config.LoadEnviron(file + ".missing"); err == nil {
		t.Fatal("missing env file accepted")
	}
}
