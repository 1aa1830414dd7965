package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/config"
)

// TestLoadUpload: defaults, the derived settings, and every problem reported at once.
func TestLoadUpload(t *testing.T) {
	c, err := config.LoadUpload(map[string]string{"UPLOAD_DIR": "/srv/up", "UPLOAD_SECRET": "3f1c0a9e77d2b6e1, 8c2d4e6f10a2b3c4",
		"UPLOAD_EXTENSIONS": "JPG, .png", "UPLOAD_QUOTA": "1GB", "FILE_TTL": "7d"})
	if err != nil {
		t.Fatal(err)
	}
	pub, admin := c.Listen()
	if pub != ":8082" || admin != "127.0.0.1:9092" || c.Prefix != "/upload/" || c.MaxSize != 100<<20 || c.MinFree != 1<<30 {
		t.Fatalf("defaults: %q %q %q %d %d", pub, admin, c.Prefix, c.MaxSize, c.MinFree)
	}
	if len(c.Parsed.Secrets) != 2 || string(c.Parsed.Secrets[1]) != "8c2d4e6f10a2b3c4" || strings.Join(c.Parsed.Extensions, ",") != ".jpg,.png" {
		t.Fatalf("derived: %q %q", c.Parsed.Secrets, c.Parsed.Extensions)
	}
	if c.FileTTL != 7*24*time.Hour || c.QuotaDB().Mode != "sqlite" || c.Base().LogFormat != "json" {
		t.Fatalf("ttl %v db %+v", c.FileTTL, c.QuotaDB())
	}
	q := c.QuotaConfig()
	if !q.TotalEnabled || q.TotalLimit.Bytes != 1<<30 || q.TotalLimitText != "1GB" || q.TotalWindow != 24*time.Hour {
		t.Fatalf("quota %+v", q)
	}

	_, err = config.LoadUpload(map[string]string{"UPLOAD_SECRET": "change-me-openssl-rand-hex-32", "UPLOAD_PREFIX": "upload",
		"UPLOAD_MAX_SIZE": "0", "UPLOAD_EXTENSIONS": "a/b", "DB_MODE": "mysql", "LOG_LEVEL": "loud"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"UPLOAD_DIR is required", "UPLOAD_SECRET holds a placeholder", "UPLOAD_PREFIX=", "UPLOAD_MAX_SIZE must be positive",
		"UPLOAD_EXTENSIONS=", "DB_MODE=", "LOG_LEVEL="} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, err := config.LoadUpload(map[string]string{"UPLOAD_DIR": "/x"}); err == nil || !strings.Contains(err.Error(), "UPLOAD_SECRET is required") {
		t.Fatalf("no secret: %v", err)
	}
}
