package config

import (
	"fmt"
	"strings"

	"github.com/alist-edge/alist-edge/pkg/policy"
)

// loadPolicy builds the effective policy: the rules the Workers' lists compile into (each
// list's errors name its variable), then POLICY_FILE's rules, compiled for this service.
// Problems go into p; the results are nil when there were any.
func (c *Common) loadPolicy(p *Problems, lists policy.Lists, own vocabulary) (*policy.Document, *policy.Engine) {
	// policy.New is the Workers' parser: its errors name BLACKLIST_ACTION and friends.
	if _, err := policy.New(lists, own.words); err != nil {
		p.Add(err)
		return nil, nil
	}
	doc, err := policy.FromLists(lists)
	if err != nil {
		p.Add(err)
		return nil, nil
	}
	if c.PolicyFile != "" {
		file, err := policy.Load(c.PolicyFile)
		if err != nil {
			addEach(p, "POLICY_FILE", err)
			return nil, nil
		}
		doc = policy.Merge(doc, file)
	}
	eng, err := doc.Compile(own.words)
	if err != nil {
		addEach(p, "POLICY_FILE", err)
		return nil, nil
	}
	return doc, eng
}

// addEach adds every problem of a joined error on its own line, naming the variable (the
// policy's problems already carry file:line).
func addEach(p *Problems, name string, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			addEach(p, name, e)
		}
		return
	}
	p.Addf("%s: %v", name, err)
}

// PolicyTOML is the effective policy as TOML (-check-config -print-policy), with the built-in
// limits of the environment as comments.
func (c *Proxy) PolicyTOML() []byte {
	var lines []string
	lines = append(lines, c.rateLine()...)
	if c.QuotaTotalEnabled {
		lines = append(lines, fmt.Sprintf("env-total:    IPSUBNET_BANDWIDTH_LIMIT=%s per subnet per BANDWIDTH_WINDOW_TIME_TOTAL=%s (rolling), then BANDWIDTH_BLOCK_TIME=%s",
			c.Parsed.TotalLimitText, FormatDuration(c.BandwidthWindow), FormatDuration(c.BandwidthBlockTime)))
	}
	if c.QuotaFileEnabled {
		lines = append(lines, fmt.Sprintf("env-filepath: IPSUBNET_FILEPATH_BANDWIDTH_LIMIT=%s per subnet and file per BANDWIDTH_WINDOW_TIME_FILEPATH=%s (rolling), then BANDWIDTH_BLOCK_TIME=%s",
			strings.TrimSpace(c.FileBandwidthLimit), FormatDuration(c.FileBandwidthWindow), FormatDuration(c.BandwidthBlockTime)))
	}
	return withBuiltins(c.Parsed.PolicyDoc.TOML(), lines)
}

// PolicyTOML is the effective policy as TOML (-check-config -print-policy), with the built-in
// limits of the environment as comments.
func (c *Landing) PolicyTOML() []byte { return withBuiltins(c.Parsed.PolicyDoc.TOML(), c.rateLine()) }

// rateLine describes the request window of IPSUBNET_WINDOWTIME_LIMIT, when it is on.
func (c *Common) rateLine() []string {
	if c.RequestLimit <= 0 {
		return nil
	}
	block := "until the window ends"
	if c.BlockTime > 0 {
		block = "BLOCK_TIME=" + FormatDuration(c.BlockTime)
	}
	return []string{fmt.Sprintf("env-rate:     IPSUBNET_WINDOWTIME_LIMIT=%d requests per subnet per WINDOW_TIME=%s (rolling), then blocked %s",
		c.RequestLimit, FormatDuration(c.WindowTime), block)}
}

// withBuiltins appends the environment's limits as comments: they keep the Workers' counters
// and answers (docs/contract.md §8), checked in the same round trip before the file's limits.
func withBuiltins(doc []byte, lines []string) []byte {
	if len(lines) == 0 {
		return doc
	}
	out := append(doc, "\n# Built-in limits from the environment. They keep the Workers' counters and 429 texts\n"+
		"# (docs/contract.md §8) and are checked in the same round trip, before the limits above.\n"...)
	for _, l := range lines {
		out = append(out, "# "+l+"\n"...)
	}
	return out
}
