package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// LoadEnviron is the configuration source of cmd/proxy: the process environment with the
// KEY=VALUE lines of file (when file is not "") over it. The file wins, so editing it and
// sending SIGHUP changes keys or policy even when the service was started with the same
// variables in its environment. Both services use it for -env-file.
func LoadEnviron(file string) (map[string]string, error) {
	env := Environ()
	if file == "" {
		return env, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	vals, err := ParseEnvFile(file, f)
	if err != nil {
		return nil, err
	}
	for k, v := range vals {
		env[k] = v
	}
	return env, nil
}

// ParseEnvFile reads KEY=VALUE lines: blank lines and lines starting with # are skipped,
// "export " is allowed, and one pair of matching quotes around a value is removed.
func ParseEnvFile(name string, r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("env file %s:%d: want KEY=VALUE", name, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, sc.Err()
}
