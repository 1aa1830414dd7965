package identity

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestForwardAuthIdentify(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	authelia, _ := Preset("authelia", trusted)
	oauth2, _ := Preset("oauth2-proxy", trusted)
	proxy := netip.MustParseAddr("10.1.2.3")
	manyGroups := make([]string, MaxGroups+5)
	for i := range manyGroups {
		manyGroups[i] = fmt.Sprintf("g%d", i)
	}
	for _, c := range []struct {
		name   string
		f      ForwardAuth
		peer   netip.Addr
		header http.Header
		ok     bool
		user   string
		groups []string
	}{
		{"authelia", authelia, proxy, http.Header{"Remote-User": {"alice"}, "Remote-Groups": {"members, staff"}}, true, "alice", []string{"members", "staff"}},
		{"oauth2-proxy", oauth2, proxy, http.Header{"X-Forwarded-User": {"bob@example.org"}, "X-Forwarded-Groups": {"dev"}}, true, "bob@example.org", []string{"dev"}},
		{"untrusted peer", authelia, netip.MustParseAddr("203.0.113.9"), http.Header{"Remote-User": {"alice"}}, false, "", nil},
		{"invalid peer", authelia, netip.Addr{}, http.Header{"Remote-User": {"alice"}}, false, "", nil},
		{"no trusted list", ForwardAuth{UserHeader: "Remote-User"}, proxy, http.Header{"Remote-User": {"alice"}}, false, "", nil},
		{"mapped IPv4 peer", authelia, netip.MustParseAddr("::ffff:10.9.9.9"), http.Header{"Remote-User": {"alice"}}, true, "alice", nil},
		{"IPv6 peer", authelia, netip.MustParseAddr("fd00::1"), http.Header{"Remote-User": {"alice"}}, true, "alice", nil},
		{"other header pair ignored", authelia, proxy, http.Header{"X-Forwarded-User": {"alice"}}, false, "", nil},
		{"no user", authelia, proxy, http.Header{"Remote-Groups": {"staff"}}, false, "", nil},
		{"empty user", authelia, proxy, http.Header{"Remote-User": {"  "}}, false, "", nil},
		{"user sent twice", authelia, proxy, http.Header{"Remote-User": {"mallory", "alice"}}, false, "", nil},
		{"groups sent twice", authelia, proxy, http.Header{"Remote-User": {"alice"}, "Remote-Groups": {"admins", "members"}}, false, "", nil},
		{"control character", authelia, proxy, http.Header{"Remote-User": {"ali\x01ce"}}, false, "", nil},
		{"too long", authelia, proxy, http.Header{"Remote-User": {strings.Repeat("a", MaxNameLen+1)}}, false, "", nil},
		{"user trimmed", authelia, proxy, http.Header{"Remote-User": {" alice "}}, true, "alice", nil},
		{"groups cleaned", authelia, proxy, http.Header{"Remote-User": {"alice"}, "Remote-Groups": {" a ,, b,a, bad\x7fgroup ," + strings.Repeat("x", 65) + ",authentik Admins"}}, true, "alice", []string{"a", "b", "authentik Admins"}},
		{"groups capped", authelia, proxy, http.Header{"Remote-User": {"alice"}, "Remote-Groups": {strings.Join(manyGroups, ",")}}, true, "alice", manyGroups[:MaxGroups]},
		{"no groups header configured", ForwardAuth{UserHeader: "Remote-User", Trusted: trusted}, proxy, http.Header{"Remote-User": {"alice"}, "Remote-Groups": {"staff"}}, true, "alice", nil},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		for k, vs := range c.header {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		id, ok := c.f.Identify(r, c.peer)
		if ok != c.ok || id.User != c.user || !slices.Equal(id.Groups, c.groups) || (ok && id.Source != SourceForwardAuth) {
			t.Errorf("%s: %v %+v", c.name, ok, id)
		}
		if ok && id.Valid() != nil {
			t.Errorf("%s: invalid identity: %v", c.name, id.Valid())
		}
	}
}

func TestPreset(t *testing.T) {
	for name, want := range map[string][2]string{
		"authelia": {"Remote-User", "Remote-Groups"}, "Authentik": {"Remote-User", "Remote-Groups"},
		"oauth2-proxy": {"X-Forwarded-User", "X-Forwarded-Groups"},
	} {
		f, err := Preset(name, nil)
		if err != nil || f.UserHeader != want[0] || f.GroupsHeader != want[1] {
			t.Errorf("%s: %+v %v", name, f, err)
		}
	}
	if _, err := Preset("keycloak", nil); err == nil || !strings.Contains(err.Error(), "accepted: authelia, authentik, oauth2-proxy") {
		t.Errorf("unknown preset: %v", err)
	}
}

// TestForwardAuthRealPeer: over a real connection, the TCP peer decides; the same header is
// believed from a trusted address and ignored from any other.
func TestForwardAuthRealPeer(t *testing.T) {
	for _, c := range []struct {
		trusted string
		want    string
	}{{"127.0.0.0/8", "alice"}, {"192.0.2.0/24", "anonymous"}} {
		f, _ := Preset("authelia", []netip.Prefix{netip.MustParsePrefix(c.trusted)})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer := netip.MustParseAddrPort(r.RemoteAddr).Addr()
			if id, ok := f.Identify(r, peer); ok {
				io.WriteString(w, id.User)
				return
			}
			io.WriteString(w, "anonymous")
		}))
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Remote-User", "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if string(body) != c.want {
			t.Errorf("trusted %s: %q, want %q", c.trusted, body, c.want)
		}
	}
}
