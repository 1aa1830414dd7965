package xmpptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Upload is one slot request and what the client does with the slot.
type Upload struct {
	Name        string // file name announced to Prosody (UTF-8, spaces allowed; no "/")
	ContentType string // declared in the slot request and sent on the PUT; default application/octet-stream
	Data        []byte // the body of each PUT
	Size        int64  // size announced in the slot request; 0 means len(Data)
	Puts        int    // how many times the same slot is PUT; 0 means 1, negative means none
	Get         bool   // GET the slot's GET URL after the PUTs
}

// Slot is what Prosody answered: the PUT URL (with the MAC query for ext modes), the GET URL,
// and the headers the client must send on the PUT (Authorization for mod_http_file_share).
type Slot struct {
	Put     string            `json:"put"`
	Get     string            `json:"get"`
	Headers map[string]string `json:"headers"`
}

// PutResult is the service's answer to one PUT.
type PutResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// GetResult summarises the GET of the GET URL.
type GetResult struct {
	Status  int               `json:"status"`
	Size    int64             `json:"size"`
	SHA256  string            `json:"sha256"`
	Headers map[string]string `json:"headers"`
}

// Result is the JSON testdata/xmpp/upload.py prints.
type Result struct {
	Slot  Slot        `json:"slot"`
	Puts  []PutResult `json:"puts"`
	Get   *GetResult  `json:"get"`
	Error string      `json:"error"`
}

// Upload logs in as the first account with slixmpp, requests a slot from the upload component
// and PUTs u.Data to it (aiohttp, the way slixmpp's upload_file does). A client-side failure
// (login, slot refused, connection) comes back as an error carrying the client's message; HTTP
// statuses, including refusals, are in Result.Puts.
func (s *Server) Upload(ctx context.Context, u Upload) (Result, error) {
	return s.UploadAs(ctx, s.User, s.Password, u)
}

// UploadAs is Upload with the given account.
func (s *Server) UploadAs(ctx context.Context, jid, password string, u Upload) (Result, error) {
	f, err := os.CreateTemp("", "xmpptest-body-")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(u.Data); err != nil {
		f.Close()
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	ct := u.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	puts := u.Puts
	if puts == 0 {
		puts = 1
	} else if puts < 0 {
		puts = 0
	}
	args := []string{filepath.Join(RepoRoot(), "testdata", "xmpp", "upload.py"),
		"--jid", jid, "--password", password, "--port", strconv.Itoa(s.Port),
		"--service", s.UploadJID, "--file", f.Name(), "--name", u.Name,
		"--content-type", ct, "--puts", strconv.Itoa(puts)}
	if u.Size > 0 {
		args = append(args, "--size", strconv.FormatInt(u.Size, 10))
	}
	if u.Get {
		args = append(args, "--get")
	}
	cmd := exec.CommandContext(ctx, Python(), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var r Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("upload.py: %v (exit: %v): stdout %q stderr %q", err, runErr, stdout.String(), stderr.String())
	}
	if r.Error != "" {
		return r, errors.New("upload.py: " + r.Error)
	}
	if runErr != nil {
		return r, fmt.Errorf("upload.py: %v: %s", runErr, stderr.String())
	}
	return r, nil
}

// SendFile uploads the file at path with go-sendxmpp (-h, http-upload) as the first account and
// sends its GET URL to the second account. go-sendxmpp discovers the upload component itself,
// declares the Content-Type it sniffs from the bytes (application/octet-stream for anything it
// does not recognise, whatever the extension) and exits non-zero when the PUT is refused. It
// returns go-sendxmpp's combined output.
func (s *Server) SendFile(ctx context.Context, path string) (string, error) {
	cmd := exec.CommandContext(ctx, "go-sendxmpp",
		"-u", s.User, "-p", s.Password, "-j", "127.0.0.1:"+strconv.Itoa(s.Port),
		"-n", "--timeout", "20", "-h", path, s.User2)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("go-sendxmpp: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
