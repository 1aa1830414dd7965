package policy

// [alist_groups] maps AList account names to groups (issue #17): when the landing checks a name
// and password against AList (ALIST_LOGIN), AList says who the user is but knows nothing of
// this policy's groups, so the policy that uses the groups says which ones each account has.
//
//	[alist_groups]
//	alice = ["members", "staff"]
//	bob = ["guests"]

func (r *reader) alistGroups(v *tval) {
	t := r.section(v, "alist_groups")
	if t == nil {
		return
	}
	out := make(map[string][]string, len(t.keys))
	for _, name := range t.keys {
		gv := t.m[name]
		where := "[alist_groups] " + name
		if !ValidName(name, MaxUserLen) {
			r.errf(gv.line, "[alist_groups]: %q is not a user name (1 to %d bytes, no control characters)", name, MaxUserLen)
			continue
		}
		gs, ok := r.strs(gv, where, false)
		if !ok {
			continue
		}
		if len(gs) > MaxGroups {
			r.errf(gv.line, "%s: %d groups (accepted: at most %d)", where, len(gs), MaxGroups)
			continue
		}
		good := true
		for i, g := range gs {
			switch {
			case !ValidName(g, MaxGroupLen):
				r.errf(gv.line, "%s: %q is not a group name (1 to %d bytes, no control characters)", where, g, MaxGroupLen)
				good = false
			case seenBefore(gs, i):
				r.errf(gv.line, "%s: %q is listed twice", where, g)
				good = false
			}
		}
		if good {
			out[name] = gs
		}
	}
	r.doc.AlistGroups = out
}
