package sign_test

import (
	"bytes"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/vectors"
	"github.com/alist-edge/alist-edge/pkg/sign"
)

func TestCopyInSync(t *testing.T) {
	shared := vectors.SharedPath(t)
	if shared == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("../shared/testdata/upstream-vectors.json is missing in CI")
		}
		t.Skip("../shared not beside the repository")
	}
	a, err := os.ReadFile(shared)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(vectors.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("testdata/upstream-vectors.json differs from ../shared/testdata: copy it again")
	}
}

// TestPositiveVectors rebuilds every parameter and the download URL from each case's inputs.
func TestPositiveVectors(t *testing.T) {
	for _, c := range vectors.Load(t).Positive {
		t.Run(c.Name, func(t *testing.T) {
			kr := sign.NewKeyringFromSecrets(c.SignKey())
			raw := c.EncodedPath
			if c.RawRequestPath != "" {
				raw = c.RawRequestPath
			}
			encoded, decoded, err := sign.RequestPath(raw)
			if err != nil {
				t.Fatal(err)
			}
			if decoded != c.Path || encoded != c.EncodedPath {
				t.Fatalf("path: got %q (%q), want %q (%q)", decoded, encoded, c.Path, c.EncodedPath)
			}
			workers := sign.SplitWorkerAddrs(c.WorkerAddressDownload)
			idx := 0
			if c.MathRandom != nil {
				idx = int(math.Floor(*c.MathRandom * float64(len(workers))))
			}
			w := workers[idx]
			if w != c.WorkerAddr {
				t.Fatalf("worker: got %q want %q", w, c.WorkerAddr)
			}
			lifetime := sign.LinkLifetime(c.FileSize, c.MinDurationS, c.MinBandwidthBytesPerS*8/1e6)
			info := &sign.AdditionalInfo{PathHash: sign.PathHash(decoded), FileSize: c.FileSize, ExpireTime: c.Now + lifetime}
			if c.LandingEnv["IF_APPEND_ADDITIONAL"] == "false" {
				info = nil
			}
			p := kr.BuildParams(decoded, w, c.IP, c.Expire, info)
			check := func(name, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s: got %q want %q", name, got, want)
				}
			}
			check("sign", p.Sign, c.Sign)
			check("hashSign", p.HashSign, c.HashSign)
			check("workerSign", p.WorkerSign, c.WorkerSign)
			check("ipSign", p.IPSign, c.IPSign)
			if info != nil {
				check("additionalInfo", p.AdditionalInfo, c.AdditionalInfo)
				check("additionalInfoSign", p.AdditionalInfoSign, c.AdditionalInfoSign)
			}
			check("hmac sign input", decoded+":"+itoa(c.Expire), c.HMACInputs["sign"])
			check("hmac workerSign input", sign.WorkerSignData(decoded, w)+":"+itoa(c.Expire), c.HMACInputs["workerSign"])
			check("hmac ipSign input", sign.IPSignData(decoded, c.IP)+":"+itoa(c.Expire), c.HMACInputs["ipSign"])
			origin, err := sign.Origin(w)
			if err != nil {
				t.Fatal(err)
			}
			check("download_url", sign.DownloadURL(origin, encoded, p), c.DownloadURL)

			// And the proxy side: the chain verifies at the proxy's clock.
			req := &sign.ChainRequest{Path: decoded, Params: p, ClientIP: c.IP,
				WorkerAddr: sign.WorkerAddr(c.ProxyCheck.WorkerAddress), Now: c.ProxyCheck.Now}
			checks := sign.AllChecks
			if c.ProxyCheck.Env["ADDITION_CHECK"] == "false" {
				checks.Addition = false
			}
			_, _, err = kr.VerifyChain(req, checks)
			if c.ProxyCheck.Status == 200 && err != nil {
				t.Fatalf("chain: %v", err)
			}
			if c.ProxyCheck.Status != 200 && (err == nil || err.Error() != c.ProxyCheck.Message) {
				t.Fatalf("chain: got %v want %q", err, c.ProxyCheck.Message)
			}
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestNegativeVectorsSignatures replays every proxy negative whose message comes from the
// signature chain and checks the exact message (or our override).
func TestNegativeVectorsSignatures(t *testing.T) {
	ran := 0
	for _, c := range vectors.Load(t).Negative {
		if !c.IsProxy() || c.ExpectedMessage == "ipv6 access is prohibited" {
			continue // IPV4_ONLY is proxy policy, not signature: internal/proxy replays it
		}
		t.Run(c.Name, func(t *testing.T) {
			u, err := url.Parse(c.URL)
			if err != nil {
				t.Fatal(err)
			}
			status, msg := c.Expected()
			_, decoded, err := sign.RequestPath(sign.RawPath(u.RequestURI()))
			if err != nil {
				if msg != err.Error() || status != 400 {
					t.Fatalf("path: got %v want %d %q", err, status, msg)
				}
				ran++
				return
			}
			q := u.Query()
			ip := c.IP
			if c.CFConnectingIPHeader != "" {
				ip = strings.TrimSpace(strings.Split(c.CFConnectingIPHeader, ",")[0])
			}
			req := &sign.ChainRequest{Path: decoded, ClientIP: ip, WorkerAddr: sign.WorkerAddr(c.ProxyWorkerAddress), Now: c.Now,
				Params: sign.Params{Sign: q.Get("sign"), HashSign: q.Get("hashSign"), WorkerSign: q.Get("workerSign"),
					IPSign: q.Get("ipSign"), AdditionalInfo: q.Get("additionalInfo"), AdditionalInfoSign: q.Get("additionalInfoSign")}}
			_, _, err = sign.NewKeyringFromSecrets(c.Token).VerifyChain(req, sign.AllChecks)
			switch {
			case status == 200 && err != nil:
				t.Fatalf("got %v, want success", err)
			case status != 200 && (err == nil || err.Error() != msg):
				t.Fatalf("got %v, want %q", err, msg)
			}
			ran++
		})
	}
	if ran < 15 {
		t.Fatalf("only %d proxy negatives ran", ran)
	}
}

// TestLandingNegativeSign checks the landing's bare messages for the incoming sign.
func TestLandingNegativeSign(t *testing.T) {
	for _, c := range vectors.Load(t).Negative {
		if c.IsProxy() || c.ExpectedStatus != 401 {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			u, _ := url.Parse(c.RequestURL)
			q := u.Query()
			raw := sign.RawPath(u.RequestURI())
			if u.Path == "/info" {
				raw = q.Get("path")
			}
			_, decoded, err := sign.RequestPath(raw)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sign.NewKeyringFromSecrets(c.Token).Verify(&sign.LandingMessages, q.Get("sign"), decoded, c.Now)
			if err == nil || err.Error() != c.ExpectedMessage {
				t.Fatalf("got %v want %q", err, c.ExpectedMessage)
			}
		})
	}
}
