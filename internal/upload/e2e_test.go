package upload

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alist-edge/alist-edge/internal/xmpptest"
)

// TestRealProsody is the whole path with real parts: Prosody 0.12 (mod_http_upload_external v1
// and v2 from prosody-modules, and its own mod_http_file_share in external mode) hands a slot to a
// real XMPP client (slixmpp, XEP-0363), the client PUTs the file to this service, gets 201, a
// second PUT of the same slot gets 409, and the GET URL returns the identical bytes. In CI
// (ALIST_EDGE_REQUIRE_XMPP=1) missing tools fail the test; they never skip it there.
func TestRealProsody(t *testing.T) {
	xmpptest.Require(t)
	for _, mode := range xmpptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_MAX_SIZE": "10MB"}})
			e.clk.Add(time.Since(e.clk.Now())) // the service on the real clock: Prosody signs iat/exp with it
			base := e.srv.URL + "/upload/"
			if mode == xmpptest.Share {
				base = e.srv.URL + "/upload"
			}
			p := xmpptest.Start(t, mode, base, testSecret)
			data := make([]byte, 300<<10)
			_, _ = rand.Read(data)
			sum := sha256.Sum256(data)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := p.Upload(ctx, xmpptest.Upload{Name: "héllo wörld.txt", ContentType: "text/plain", Data: data, Puts: 2, Get: true})
			if err != nil {
				t.Fatalf("%v\nprosody log:\n%s", err, p.Log())
			}
			if len(res.Puts) != 2 || res.Puts[0].Status != 201 || res.Puts[1].Status != 409 {
				t.Fatalf("PUTs answered %+v, want 201 then 409 (slot %s)\nservice log:\n%s", res.Puts, res.Slot.Put, e.log.String())
			}
			if res.Get == nil || res.Get.Status != 200 || res.Get.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("GET %+v, want 200 with the same bytes", res.Get)
			}
			if ct := res.Get.Headers["Content-Type"]; !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("GET Content-Type %q, want the uploaded type", ct)
			}
		})
	}
}

// TestRealGoSendxmpp: go-sendxmpp, a real client that declares application/octet-stream for a
// file it cannot sniff, uploads through Prosody's v2 and file_share modes (the v2 MAC covers the
// declared type, not one derived from the extension).
func TestRealGoSendxmpp(t *testing.T) {
	xmpptest.Require(t)
	for _, mode := range []xmpptest.Mode{xmpptest.ExtV2, xmpptest.Share} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, envOpt{vars: map[string]string{"UPLOAD_MAX_SIZE": "10MB"}})
			e.clk.Add(time.Since(e.clk.Now()))
			base := e.srv.URL + "/upload/"
			if mode == xmpptest.Share {
				base = e.srv.URL + "/upload"
			}
			p := xmpptest.Start(t, mode, base, testSecret)
			file := filepath.Join(t.TempDir(), "photo.jpg")
			data := make([]byte, 64<<10)
			_, _ = rand.Read(data) // not a JPEG: the client falls back to application/octet-stream
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if out, err := p.SendFile(ctx, file); err != nil {
				t.Fatalf("%v\n%s\nservice log:\n%s", err, out, e.log.String())
			}
			found := false
			_ = filepath.WalkDir(e.dir, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && strings.HasSuffix(path, "photo.jpg") {
					if b, rerr := os.ReadFile(path); rerr == nil && string(b) == string(data) {
						found = true
					}
				}
				return nil
			})
			if !found {
				t.Fatalf("go-sendxmpp's upload is not in %s with its bytes", e.dir)
			}
		})
	}
}
