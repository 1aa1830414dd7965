package deploy_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/logx"
)

// fail2ban filter and jail: fail2ban-regex over logx.Access lines, fail2ban-client -t.

// accessSamples are access lines as the services write them; denied says which ones fail2ban
// must count.
func accessSamples(t *testing.T) (text string, denied map[string]int) {
	t.Helper()
	var buf bytes.Buffer
	l := logx.New(&buf, "info", "json")
	denied = map[string]int{}
	recs := []logx.AccessRecord{
		{RequestID: "a", ClientIP: "203.0.113.7", Subnet: "203.0.113.7/32", Method: "GET", Status: 401, Reason: "sign mismatch"},
		{RequestID: "b", ClientIP: "203.0.113.7", Subnet: "203.0.113.7/32", Method: "GET", Status: 401, Reason: "hashSign missing"},
		{RequestID: "c", ClientIP: "2001:db8::7", Subnet: "2001:db8:0:0:0:0:0:0/60", Method: "HEAD", Status: 429, Reason: "rate_limit"},
		{RequestID: `x","client_ip":"6.6.6.6`, ClientIP: "198.51.100.3", Method: "GET", Status: 403, Reason: `policy","client_ip":"6.6.6.6`},
		{RequestID: "d", ClientIP: "198.51.100.9", Subnet: "198.51.100.9/32", Method: "GET", Status: 200, Bytes: 1 << 20, Duration: time.Second},
		{RequestID: "e", ClientIP: "198.51.100.9", Method: "GET", Status: 206, Bytes: 10},
		{RequestID: "f", ClientIP: "198.51.100.9", Method: "GET", Status: 502, Reason: "upstream_error"},
		{RequestID: `y","status":401,"reason":"z`, ClientIP: "198.51.100.10", Method: "GET", Status: 200},
		// cmd/upload: a bad MAC, a bad token; an existing file and an expired token ban nobody.
		{RequestID: "g", ClientIP: "192.0.2.20", Subnet: "192.0.2.20/32", Method: "PUT", Status: 403, Reason: "upload MAC mismatch"},
		{RequestID: "h", ClientIP: "192.0.2.20", Subnet: "192.0.2.20/32", Method: "PUT", Status: 401, Reason: "upload token invalid"},
		{RequestID: "i", ClientIP: "192.0.2.21", Subnet: "192.0.2.21/32", Method: "PUT", Status: 409, Reason: "exists"},
		{RequestID: "j", ClientIP: "192.0.2.21", Subnet: "192.0.2.21/32", Method: "PUT", Status: 410, Reason: "token_expired"},
	}
	for i, r := range recs {
		ll := l
		if i%2 == 1 {
			ll = l.With("service", "proxy")
		}
		logx.Access(ll, r)
		if r.Denied() {
			denied[r.ClientIP]++
		}
	}
	return buf.String(), denied
}

func TestFail2banRegex(t *testing.T) {
	f2b := tool(t, "fail2ban-regex", "apt-get install -y fail2ban")
	lines, denied := accessSamples(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	filter, err := filepath.Abs("fail2ban/filter.d/alist-edge.conf")
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, dir, f2b, "-v", log, filter)
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	total := 0
	for _, n := range denied {
		total += n
	}
	nLines := strings.Count(lines, "\n")
	want := fmt.Sprintf("Lines: %d lines, 0 ignored, %d matched, %d missed", nLines, total, nLines-total)
	if !strings.Contains(out, want) {
		t.Fatalf("fail2ban-regex: want %q\n%s", want, out)
	}
	// the hosts found are exactly the denied clients
	hostRe := regexp.MustCompile(`(?m)^\|\s+(\S+)\s+\w{3} \w{3} +\d+ [\d:]+ \d{4}$`)
	found := map[string]int{}
	for _, m := range hostRe.FindAllStringSubmatch(out, -1) {
		found[m[1]]++
	}
	if !reflect.DeepEqual(found, denied) {
		t.Fatalf("fail2ban found hosts %v, want %v\n%s", found, denied, out)
	}
}

func TestFail2banJail(t *testing.T) {
	client := tool(t, "fail2ban-client", "apt-get install -y fail2ban")
	base := "/etc/fail2ban"
	if _, err := os.Stat(filepath.Join(base, "filter.d", "common.conf")); err != nil {
		if requireTools() {
			t.Fatalf("fail2ban's stock configuration is missing: %v", err)
		}
		t.Skip("no stock fail2ban configuration")
	}
	conf := t.TempDir()
	// the stock configuration without its jails, plus ours
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, path)
		dst := filepath.Join(conf, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasPrefix(rel, "jail.d"+string(filepath.Separator)) || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{"fail2ban/filter.d/alist-edge.conf": "filter.d/alist-edge.conf",
		"fail2ban/jail.d/alist-edge.local": "jail.d/alist-edge.local"} {
		if err := os.WriteFile(filepath.Join(conf, dst), []byte(read(t, src)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := run(t, conf, client, "-c", conf, "-t")
	if err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("fail2ban-client -t: %v\n%s", err, out)
	}
	out, err = run(t, conf, client, "-c", conf, "-d")
	if err != nil || !strings.Contains(out, "'add', 'alist-edge'") {
		t.Fatalf("fail2ban-client -d does not add the alist-edge jail: %v\n%s", err, out)
	}
}
