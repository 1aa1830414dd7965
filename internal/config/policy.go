package config

import (
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
			p.Addf("POLICY_FILE=%q: %v", c.PolicyFile, err)
			return nil, nil
		}
		doc = policy.Merge(doc, file)
	}
	eng, err := doc.Compile(own.words)
	if err != nil {
		p.Addf("POLICY_FILE=%q: %v", c.PolicyFile, err)
		return nil, nil
	}
	return doc, eng
}

// PolicyTOML is the effective policy as TOML (-check-config -print-policy).
func (c *Proxy) PolicyTOML() []byte { return c.Parsed.PolicyDoc.TOML() }

// PolicyTOML is the effective policy as TOML (-check-config -print-policy).
func (c *Landing) PolicyTOML() []byte { return c.Parsed.PolicyDoc.TOML() }
