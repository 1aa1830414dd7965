// Package vectors loads the original workers' outputs (testdata/upstream-vectors.json) for
// the tests of every package; the copy in this repository is kept in sync with
// ../shared/testdata by TestCopyInSync.
package vectors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// ProxyCheck is how the original proxy answered a positive case's download URL.
type ProxyCheck struct {
	Now           int64             `json:"now"`
	WorkerAddress string            `json:"worker_address"`
	Env           map[string]string `json:"env"`
	Status        int               `json:"status"`
	Message       string            `json:"message"`
}

// Positive is a link the original landing made and the original proxy served.
type Positive struct {
	Name                  string            `json:"name"`
	Token                 string            `json:"token"`
	EnvToken              string            `json:"env_TOKEN"`
	EnvSignSecret         string            `json:"env_SIGN_SECRET"`
	Path                  string            `json:"path"`
	EncodedPath           string            `json:"encoded_path"`
	RawRequestPath        string            `json:"raw_request_path"`
	Expire                int64             `json:"expire"`
	WorkerAddressDownload string            `json:"worker_address_download"`
	MathRandom            *float64          `json:"math_random"`
	WorkerAddr            string            `json:"worker_addr"`
	IP                    string            `json:"ip"`
	FileSize              int64             `json:"filesize"`
	Now                   int64             `json:"now"`
	MinDurationS          int64             `json:"min_duration_s"`
	MinBandwidthBytesPerS float64           `json:"min_bandwidth_bytes_per_s"`
	LandingEnv            map[string]string `json:"landing_env"`
	LandingRequestURL     string            `json:"landing_request_url"`
	InfoRequestURL        string            `json:"info_request_url"`
	Sign                  string            `json:"sign"`
	HashSign              string            `json:"hashSign"`
	WorkerSign            string            `json:"workerSign"`
	IPSign                string            `json:"ipSign"`
	AdditionalInfo        string            `json:"additionalInfo"`
	AdditionalInfoJSON    string            `json:"additionalInfo_json"`
	AdditionalInfoSign    string            `json:"additionalInfoSign"`
	HMACInputs            map[string]string `json:"hmac_inputs"`
	DownloadURL           string            `json:"download_url"`
	AlistFsGetCalls       int               `json:"alist_fs_get_calls"`
	ProxyCheck            ProxyCheck        `json:"proxy_check"`
}

// SignKey is the key the case signed with: SIGN_SECRET when set, else TOKEN.
func (p *Positive) SignKey() string {
	if p.EnvSignSecret != "" {
		return p.EnvSignSecret
	}
	if p.EnvToken != "" {
		return p.EnvToken
	}
	return p.Token
}

// AlistToken is the AList API token of the case.
func (p *Positive) AlistToken() string {
	if p.EnvToken != "" {
		return p.EnvToken
	}
	return p.Token
}

// Override is our deliberate difference from the original (docs/contract.md §11).
type Override struct {
	ExpectedStatus  int    `json:"expected_status"`
	ExpectedMessage string `json:"expected_message"`
	Why             string `json:"why"`
}

// Negative is a request the original refused.
type Negative struct {
	Name                 string            `json:"name"`
	Target               string            `json:"target"`
	URL                  string            `json:"url"`
	RequestURL           string            `json:"request_url"`
	Token                string            `json:"token"`
	IP                   string            `json:"ip"`
	CFConnectingIPHeader string            `json:"cf_connecting_ip_header"`
	ProxyWorkerAddress   string            `json:"proxy_worker_address"`
	LandingEnv           map[string]string `json:"landing_env"`
	Now                  int64             `json:"now"`
	ExpectedStatus       int               `json:"expected_status"`
	ExpectedMessage      string            `json:"expected_message"`
	AlistEdge            *Override         `json:"alist_edge"`
}

// IsProxy tells whether the case targets the proxy (else the landing).
func (n *Negative) IsProxy() bool { return len(n.Target) >= 5 && n.Target[:5] == "proxy" }

// Expected is the status and message alist-edge must answer, applying the override.
func (n *Negative) Expected() (int, string) {
	if n.AlistEdge != nil {
		return n.AlistEdge.ExpectedStatus, n.AlistEdge.ExpectedMessage
	}
	return n.ExpectedStatus, n.ExpectedMessage
}

// File is the whole vectors document.
type File struct {
	Positive []Positive `json:"positive"`
	Negative []Negative `json:"negative"`
}

// Path finds testdata/upstream-vectors.json in this repository by walking up from the
// working directory (tests run in their package's folder).
func Path(tb testing.TB) string {
	return findUp(tb, filepath.Join("testdata", "upstream-vectors.json"), "go.mod")
}

// SharedPath finds ../shared/testdata/upstream-vectors.json beside the repository, or "".
func SharedPath(tb testing.TB) string {
	repo := filepath.Dir(findUp(tb, "go.mod", "go.mod"))
	p := filepath.Join(repo, "..", "shared", "testdata", "upstream-vectors.json")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func findUp(tb testing.TB, rel, stopAt string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return filepath.Join(dir, rel)
		}
		if _, err := os.Stat(filepath.Join(dir, stopAt)); err == nil && rel != stopAt {
			tb.Fatalf("%s not found below the module root %s", rel, dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("%s not found", rel)
		}
		dir = parent
	}
}

// Load reads and parses the vectors; it fails the test when they are missing or empty.
func Load(tb testing.TB) *File {
	tb.Helper()
	raw, err := os.ReadFile(Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.Positive) == 0 || len(f.Negative) == 0 {
		tb.Fatal("vectors file has no cases")
	}
	return &f
}
