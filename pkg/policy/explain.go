package policy

import (
	"time"
)

// Trace says why a request gets its action: what Decide did, step by step, plus the value of
// every matcher (also those no rule consulted), so an operator can see which condition to
// change. It is for the admin endpoint and debug logs; it allocates freely.
type Trace struct {
	Request  TraceRequest            `json:"request"`
	Decision TraceDecision           `json:"decision"`
	Matchers map[string]TraceMatcher `json:"matchers"`
	Rules    []TraceRule             `json:"rules"`
	Limits   []TraceLimit            `json:"limits"`
}

// TraceRequest echoes the request as the engine saw it.
type TraceRequest struct {
	Path   string    `json:"path"`
	Addr   string    `json:"ip,omitempty"`
	Time   time.Time `json:"at"`
	Size   int64     `json:"size"`
	Method string    `json:"method,omitempty"`
	Host   string    `json:"host,omitempty"`
	User   string    `json:"user,omitempty"`
	Groups []string  `json:"groups,omitempty"`
}

// TraceDecision is the deciding rule, or the default when Default is true.
type TraceDecision struct {
	Rule    string `json:"rule,omitempty"`
	Action  string `json:"action"`
	Shadow  bool   `json:"shadow"` // always false: a shadow rule never decides
	Default bool   `json:"default"`
}

// TraceMatcher is one matcher's value for the request.
type TraceMatcher struct {
	Kind  string `json:"kind"`
	Value bool   `json:"value"`
}

// Rule outcomes in a Trace.
const (
	OutcomeDecided      = "decided"
	OutcomeShadow       = "matched (shadow: not enforced)"
	OutcomeNoMatch      = "did not match"
	OutcomeNotHere      = "not for this service"
	OutcomeNotEvaluated = "not evaluated (an earlier rule decided)"
)

// TraceRule is one rule in document order with what happened to it.
type TraceRule struct {
	Index   int    `json:"index"`
	ID      string `json:"id"`
	When    string `json:"when"`
	Action  string `json:"action"` // in this service's terms; "" when not for this service
	Shadow  bool   `json:"shadow"`
	Outcome string `json:"outcome"`
}

// TraceLimit is a quota or rate attached by the deciding rule; WindowEnd is where a counter
// started at the request's time would end (the caller adds usage from the store).
type TraceLimit struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Scope     Scope     `json:"scope"`
	Bytes     int64     `json:"bytes,omitempty"`
	Requests  int64     `json:"requests,omitempty"`
	Period    string    `json:"period"`
	WindowEnd time.Time `json:"window_end"`
}

// Explain evaluates r like Decide and reports every step.
func (e *Engine) Explain(r *Request) Trace {
	d := e.Decide(r)
	t := Trace{
		Request:  TraceRequest{Path: r.Path, Time: r.Time, Size: r.Size, Method: r.Method, Host: r.Host, User: r.User, Groups: r.Groups},
		Matchers: map[string]TraceMatcher{},
		Rules:    []TraceRule{},
		Limits:   []TraceLimit{},
	}
	if r.Addr.IsValid() {
		t.Request.Addr = r.Addr.String()
	}
	for i, def := range e.mdefs {
		t.Matchers[def.Name] = TraceMatcher{Kind: def.Kind, Value: e.value(i, r)}
	}
	if d.Rule != nil {
		t.Decision = TraceDecision{Rule: d.Rule.ID, Action: d.Rule.ActionText}
	} else {
		t.Decision = TraceDecision{Action: e.defText, Default: true}
	}
	shadow := map[int]bool{}
	for s := range d.Shadows() {
		shadow[s.Index] = true
	}
	for i := range e.rules {
		cr := &e.rules[i]
		tr := TraceRule{Index: i, ID: cr.info.ID, When: exprSummary(cr.def.When), Action: cr.info.ActionText, Shadow: cr.info.Shadow}
		switch {
		case !cr.applies:
			tr.Outcome = OutcomeNotHere
		case d.Rule != nil && i > d.Rule.Index:
			tr.Outcome = OutcomeNotEvaluated
		case d.Rule != nil && i == d.Rule.Index:
			tr.Outcome = OutcomeDecided
		case shadow[i]:
			tr.Outcome = OutcomeShadow
		default:
			tr.Outcome = OutcomeNoMatch
		}
		t.Rules = append(t.Rules, tr)
	}
	for _, l := range d.Limits {
		t.Limits = append(t.Limits, TraceLimit{Name: l.Name, Kind: l.Kind, Scope: l.Scope, Bytes: l.Bytes, Requests: l.Requests,
			Period: l.Period.String(), WindowEnd: l.Period.WindowEnd(r.Time)})
	}
	return t
}
