package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

type fakeService struct {
	http.Handler
	restart []string
	err     error
}

func (f *fakeService) Ready(context.Context) error { return nil }
func (f *fakeService) Close() error                { return nil }
func (f *fakeService) Reload(map[string]string) ([]string, error) {
	return f.restart, f.err
}

// TestReloadLines: one SIGHUP writes the same lines in every service: a refusal, or the
// settings that need a restart named, then "configuration reloaded".
func TestReloadLines(t *testing.T) {
	env := func() (map[string]string, error) { return map[string]string{}, nil }
	for _, c := range []struct {
		svc  *fakeService
		env  func() (map[string]string, error)
		want []string
		not  string
	}{
		{&fakeService{}, env, []string{"configuration reloaded"}, "restart"},
		{&fakeService{restart: []string{"LISTEN_ADDR", "DB_MODE"}}, env,
			[]string{`need a restart`, `settings="LISTEN_ADDR, DB_MODE"`, "configuration reloaded"}, "refused"},
		{&fakeService{err: errors.New("BLACKLIST_ACTION: unknown action")}, env, []string{"reload refused", "BLACKLIST_ACTION"}, "reloaded"},
		{&fakeService{}, func() (map[string]string, error) { return nil, errors.New("open .env: no such file") }, []string{"reload refused", ".env"}, "reloaded"},
	} {
		var buf bytes.Buffer
		reload(slog.New(slog.NewTextHandler(&buf, nil)), c.svc, c.env)
		for _, w := range c.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("log lacks %q:\n%s", w, buf.String())
			}
		}
		if strings.Contains(buf.String(), c.not) {
			t.Errorf("log has %q:\n%s", c.not, buf.String())
		}
	}
}
