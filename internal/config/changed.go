package config

import (
	"reflect"
	"sort"
	"strings"
)

// ChangedVars lists the variables whose values differ between two configurations of the same
// type (pointers to Proxy or Landing): a reload uses it to name the settings it cannot apply
// without a restart, instead of silently keeping the running values.
func ChangedVars(old, cur any) []string {
	var out []string
	changedVars(reflect.ValueOf(old).Elem(), reflect.ValueOf(cur).Elem(), &out)
	sort.Strings(out)
	return out
}

func changedVars(a, b reflect.Value, out *[]string) {
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			changedVars(a.Field(i), b.Field(i), out)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" || name == "-" {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			*out = append(*out, name)
		}
	}
}

// What the shared runner (internal/runner) reads of either service's configuration.

func (c *Proxy) Base() *Infra                   { return &c.Infra }
func (c *Proxy) Listen() (public, admin string) { return c.ListenAddr, c.AdminAddr }
func (c *Proxy) Warnings() []Warning            { return c.Parsed.Warnings }

func (c *Landing) Base() *Infra                   { return &c.Infra }
func (c *Landing) Listen() (public, admin string) { return c.ListenAddr, c.AdminAddr }
func (c *Landing) Warnings() []Warning            { return c.Parsed.Warnings }
