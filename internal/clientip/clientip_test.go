package clientip_test

import (
	"net/http/httptest"
	"testing"

	"github.com/alist-edge/alist-edge/internal/clientip"
)

func TestExtract(t *testing.T) {
	trusted, err := clientip.ParsePrefixes("10.0.0.0/8, 127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, header, peer string
		headers            map[string][]string
		want               string
		v6                 bool
	}{
		{"socket default", "", "203.0.113.7:1234", map[string][]string{"Cf-Connecting-Ip": {"1.1.1.1"}}, "203.0.113.7", false},
		{"socket v6", "", "[2001:db8::1]:1", nil, "2001:db8::1", true},
		{"cf trusted", "CF-Connecting-IP", "10.1.2.3:1", map[string][]string{"Cf-Connecting-Ip": {"198.51.100.1"}}, "198.51.100.1", false},
		{"cf list first item", "CF-Connecting-IP", "10.1.2.3:1", map[string][]string{"Cf-Connecting-Ip": {"203.0.113.7, 10.0.0.1"}}, "203.0.113.7", false},
		{"cf untrusted ignored", "CF-Connecting-IP", "198.51.100.9:1", map[string][]string{"Cf-Connecting-Ip": {"1.1.1.1"}}, "198.51.100.9", false},
		{"cf v6 as written", "cf-connecting-ip", "127.0.0.1:1", map[string][]string{"Cf-Connecting-Ip": {"2001:DB8::0001"}}, "2001:DB8::0001", true},
		{"trusted no header", "X-Real-IP", "127.0.0.1:1", nil, "", false},
		{"real ip", "X-Real-IP", "[::1]:1", map[string][]string{"X-Real-Ip": {"192.0.2.5"}}, "192.0.2.5", false},
		{"xff from right skipping trusted", "X-Forwarded-For", "10.0.0.2:1", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 192.0.2.9, 10.0.0.5"}}, "192.0.2.9", false},
		{"xff multiple headers", "X-Forwarded-For", "10.0.0.2:1", map[string][]string{"X-Forwarded-For": {"6.6.6.6", "192.0.2.9,10.0.0.5"}}, "192.0.2.9", false},
		{"xff all trusted takes leftmost", "X-Forwarded-For", "10.0.0.2:1", map[string][]string{"X-Forwarded-For": {"10.0.0.9, 10.0.0.5"}}, "10.0.0.9", false},
		{"xff untrusted peer", "X-Forwarded-For", "192.0.2.200:1", map[string][]string{"X-Forwarded-For": {"6.6.6.6"}}, "192.0.2.200", false},
		{"unix socket peer is trusted", "X-Real-IP", "@", map[string][]string{"X-Real-Ip": {"192.0.2.7"}}, "192.0.2.7", false},
		{"unix socket peer without header", "X-Real-IP", "@", nil, "", false},
		{"mapped v4 is v4", "X-Real-IP", "127.0.0.1:1", map[string][]string{"X-Real-Ip": {"::ffff:192.0.2.1"}}, "::ffff:192.0.2.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := clientip.New(tc.header, trusted)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.headers {
				r.Header[k] = vs
			}
			c := e.Extract(r)
			if c.Text != tc.want || c.IsIPv6() != tc.v6 {
				t.Fatalf("got %q v6=%v, want %q v6=%v", c.Text, c.IsIPv6(), tc.want, tc.v6)
			}
		})
	}
}

func TestNewRejectsUnknownHeader(t *testing.T) {
	if _, err := clientip.New("X-Client", nil); err == nil {
		t.Fatal("accepted")
	}
	if _, err := clientip.ParsePrefixes("10.0.0.0/8,nope"); err == nil {
		t.Fatal("accepted bad prefix")
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("X-Forwarded-For", "1.2.3.4, ,fe80::1%eth0,::ffff:1.2.3.4", "127.0.0.1:80")
	f.Add("CF-Connecting-IP", "[::1]", "[::1]:1")
	trusted, _ := clientip.ParsePrefixes("127.0.0.0/8,::1")
	f.Fuzz(func(t *testing.T, header, value, peer string) {
		e, err := clientip.New(header, trusted)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set(header, value)
		c := e.Extract(r)
		if c.Addr.IsValid() && c.Text == "" {
			t.Fatal("address without text")
		}
	})
}
