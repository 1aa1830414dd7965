package sign

import (
	"fmt"
	"net/url"
	"strings"
)

// Params are the six query parameters the landing hands the proxy.
type Params struct {
	Sign, HashSign, WorkerSign, IPSign, AdditionalInfo, AdditionalInfoSign string
}

// paramNames is the wire order of the download URL's query (url.Values.Encode would sort them).
var paramNames = [...]string{"sign", "hashSign", "workerSign", "ipSign", "additionalInfo", "additionalInfoSign"}

// DownloadURL is origin + the path exactly as received + the parameters in wire order, each
// form-encoded. Empty parameters are left out (IF_APPEND_ADDITIONAL=false drops the last two).
func DownloadURL(origin, encodedPath string, p Params) string {
	vals := [...]string{p.Sign, p.HashSign, p.WorkerSign, p.IPSign, p.AdditionalInfo, p.AdditionalInfoSign}
	var b strings.Builder
	b.Grow(len(origin) + len(encodedPath) + 400)
	b.WriteString(origin)
	b.WriteString(encodedPath)
	sep := byte('?')
	for i, v := range vals {
		if v == "" {
			continue
		}
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(paramNames[i])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	return b.String()
}

// WorkerAddr normalises a WORKER_ADDRESS entry the way both services compare it: trimmed, one
// trailing "/" removed (docs/contract.md §3; the original proxy did not strip it and broke).
func WorkerAddr(s string) string {
	s = strings.TrimSpace(s)
	return strings.TrimSuffix(s, "/")
}

// SplitWorkerAddrs parses WORKER_ADDRESS_DOWNLOAD: comma separated, blanks dropped.
func SplitWorkerAddrs(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if w := WorkerAddr(part); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// Origin is the scheme://host[:port] of a worker address as it goes into the download URL:
// scheme and host lower-cased, default port dropped, any path dropped (the path still counts
// in workerSign's data).
func Origin(workerAddr string) (string, error) {
	u, err := url.Parse(workerAddr)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", workerAddr)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
