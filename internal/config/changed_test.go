package config

import (
	"reflect"
	"testing"
)

func TestChangedVars(t *testing.T) {
	base := map[string]string{"ADDRESS": "https://alist.example.com", "TOKEN": "tok-0123456789abcdef0123", "WORKER_ADDRESS": "https://dl.example.com"}
	a, err := LoadProxy(base)
	if err != nil {
		t.Fatal(err)
	}
	next := map[string]string{"LISTEN_ADDR": ":9999", "BLACKLIST_PREFIX": "/x", "BLACKLIST_ACTION": "block"}
	for k, v := range base {
		next[k] = v
	}
	b, err := LoadProxy(next)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ChangedVars(a, b), []string{"BLACKLIST_ACTION", "BLACKLIST_PREFIX", "LISTEN_ADDR"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ChangedVars = %v, want %v", got, want)
	}
	if got := ChangedVars(a, a); len(got) != 0 {
		t.Fatalf("unchanged: %v", got)
	}
}
