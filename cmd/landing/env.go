package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/alist-edge/alist-edge/internal/config"
)

// loadEnviron is the process environment with the KEY=VALUE lines of file (if any) over it.
// The file wins so that editing it and sending SIGHUP rotates keys even when the service was
// started with the same variables in its environment. Blank lines and # comments are skipped,
// "export " is allowed and one pair of matching quotes around a value is removed.
func loadEnviron(file string) (map[string]string, error) {
	env := config.Environ()
	if file == "" {
		return env, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("env file %s:%d: want KEY=VALUE", file, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env, sc.Err()
}
