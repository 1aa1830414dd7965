package config_test

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/alist-edge/alist-edge/internal/config"
)

// Variables the services read outside the config structs, with the service(s) that read them.
var processVars = map[string]string{
	"ENV_FILE":    "all",  // cmd/*: KEY=VALUE file read over the environment (again on SIGHUP)
	"HTTPS_PROXY": "both", // proxy: internal/origin.ProxyFromEnviron; landing: net/http's default transport
	"HTTP_PROXY":  "both",
	"NO_PROXY":    "both",
	"ALL_PROXY":   "proxy", // internal/origin only (net/http ignores it)
}

// Variables .env.example may hold for docker compose only (never in the README table).
var composeOnlyVars = map[string]bool{"POSTGRES_PASSWORD": true}

// envVar is one variable a config struct reads.
type envVar struct {
	services map[string]bool   // "proxy", "landing", "upload"
	defaults map[string]string // service → envDefault (absent: no default)
}

// serviceCell: "all" (the three services), "both" (proxy and landing), else the names.
func (v envVar) serviceCell() string {
	switch {
	case len(v.services) == 3:
		return "all"
	case len(v.services) == 2 && v.services["proxy"] && v.services["landing"]:
		return "both"
	}
	var names []string
	for _, s := range []string{"proxy", "landing", "upload"} {
		if v.services[s] {
			names = append(names, s)
		}
	}
	return strings.Join(names, ", ")
}

// configVars walks the env tags of config.Proxy and config.Landing (embedded structs included).
func configVars(t *testing.T) map[string]*envVar {
	t.Helper()
	vars := map[string]*envVar{}
	var walk func(rt reflect.Type, service string)
	walk = func(rt reflect.Type, service string) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			tag := f.Tag.Get("env")
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, service)
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			v := vars[name]
			if v == nil {
				v = &envVar{services: map[string]bool{}, defaults: map[string]string{}}
				vars[name] = v
			}
			v.services[service] = true
			if d, ok := f.Tag.Lookup("envDefault"); ok {
				v.defaults[service] = d
			}
		}
	}
	walk(reflect.TypeOf(config.Proxy{}), "proxy")
	walk(reflect.TypeOf(config.Landing{}), "landing")
	walk(reflect.TypeOf(config.Upload{}), "upload")
	// EnvNames is what other checks use: it must agree with this walk.
	for svc, cfg := range map[string]any{"proxy": &config.Proxy{}, "landing": &config.Landing{}, "upload": &config.Upload{}} {
		for _, n := range config.EnvNames(cfg) {
			if n == "-" {
				continue // the derived field's env:"-" tag, not a variable
			}
			if v := vars[n]; v == nil || !v.services[svc] {
				t.Errorf("config.EnvNames(&config.%s{}) lists %s, which the env-tag walk of this test did not find", strings.ToUpper(svc[:1])+svc[1:], n)
			}
		}
	}
	return vars
}

type exampleLine struct {
	value     string
	commented bool
	line      int
}

var exampleRe = regexp.MustCompile(`^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$`)

func readEnvExample(t *testing.T, problems *[]string) map[string]exampleLine {
	t.Helper()
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]exampleLine{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := exampleRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if prev, dup := out[m[2]]; dup {
			*problems = append(*problems, sprintf(".env.example lists %s twice (lines %d and %d)", m[2], prev.line, n))
		}
		out[m[2]] = exampleLine{value: m[3], commented: m[1] != "", line: n}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type tableRow struct{ service, def, meaning string }

var rowRe = regexp.MustCompile("^\\| `([A-Z][A-Z0-9_]*)` \\| ([^|]*) \\| ([^|]*) \\| (.*) \\|$")

func readReadmeTable(t *testing.T, problems *[]string) map[string]tableRow {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(b), "<!-- env-table:start -->")
	section, _, ok2 := strings.Cut(rest, "<!-- env-table:end -->")
	if !ok1 || !ok2 {
		t.Fatal("README.md lacks the <!-- env-table:start --> / <!-- env-table:end --> markers")
	}
	out := map[string]tableRow{}
	for _, ln := range strings.Split(section, "\n") {
		if !strings.HasPrefix(ln, "| `") {
			continue
		}
		m := rowRe.FindStringSubmatch(ln)
		if m == nil {
			*problems = append(*problems, sprintf("README.md table row is not `| `NAME` | service(s) | default | meaning |`: %s", ln))
			continue
		}
		if _, dup := out[m[1]]; dup {
			*problems = append(*problems, sprintf("README.md table lists %s twice", m[1]))
		}
		out[m[1]] = tableRow{service: strings.TrimSpace(m[2]), def: strings.TrimSpace(m[3]), meaning: strings.TrimSpace(m[4])}
	}
	return out
}

var sprintf = fmt.Sprintf

// TestEnvDocs: .env.example and README.md's table list exactly the variables the services read,
// with the right service(s) and defaults. When it fails after a field was added to
// internal/config, add the variable to both: a `# NAME=default` line with a comment in the
// right group of .env.example, and a row to the README table between the env-table markers.
func TestEnvDocs(t *testing.T) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, sprintf(format, args...)) }
	vars := configVars(t)
	example := readEnvExample(t, &problems)
	table := readReadmeTable(t, &problems)

	for name, v := range vars {
		who := v.serviceCell()
		ex, inExample := example[name]
		if !inExample {
			add("%s (read by %s) is missing from .env.example: add `# %s=%s` with a comment in the %s group", name, who, name, singleDefault(v), groupName(who))
		}
		row, inTable := table[name]
		if !inTable {
			add("%s (read by %s) is missing from README.md's table (between the env-table markers): add `| `%s` | %s | %s | … |`", name, who, name, who, defaultCell(v))
		}
		if inTable {
			if row.service != who {
				add("README.md: %s's service(s) column says %q, want %q", name, row.service, who)
			}
			checkDefaultCell(v, name, row.def, add)
			if row.meaning == "" || row.meaning == "…" {
				add("README.md: %s has no meaning", name)
			}
		}
		if inExample && ex.commented {
			if d, ok := uniqueDefault(v); ok && ex.value != d {
				add(".env.example line %d: `# %s=%s` shows a default other than the code's %q", ex.line, name, ex.value, d)
			}
		}
	}
	for name, who := range processVars {
		if _, ok := vars[name]; ok {
			add("%s is in both processVars and a config struct: remove it from processVars in envdoc_test.go", name)
		}
		if _, ok := example[name]; !ok {
			add("%s (read by %s outside internal/config) is missing from .env.example", name, who)
		}
		row, ok := table[name]
		if !ok {
			add("%s (read by %s outside internal/config) is missing from README.md's table", name, who)
		} else if row.service != who {
			add("README.md: %s's service(s) column says %q, want %q", name, row.service, who)
		}
	}
	for name, ex := range example {
		if vars[name] == nil && processVars[name] == "" && !composeOnlyVars[name] {
			add(".env.example line %d lists %s, which no service reads (a typo, or a removed setting?)", ex.line, name)
		}
	}
	for name := range table {
		if vars[name] == nil && processVars[name] == "" {
			add("README.md's table lists %s, which no service reads (a typo, or a removed setting?)", name)
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		t.Fatalf("the configuration docs do not match internal/config (%d problem(s)):\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

// uniqueDefault is the default when every service that reads the variable has the same one.
func uniqueDefault(v *envVar) (string, bool) {
	var d string
	n := 0
	for s := range v.services {
		dv, ok := v.defaults[s]
		if !ok {
			return "", false
		}
		if n > 0 && dv != d {
			return "", false
		}
		d = dv
		n++
	}
	return d, n > 0
}

func singleDefault(v *envVar) string {
	d, _ := uniqueDefault(v)
	return d
}

func groupName(who string) string {
	if who == "both" || who == "all" {
		return "shared"
	}
	return who + " only"
}

// defaultCell is what the README's default column should say.
func defaultCell(v *envVar) string {
	if d, ok := uniqueDefault(v); ok {
		return "`" + d + "`"
	}
	if len(v.defaults) == 0 {
		return "empty"
	}
	var parts []string
	for _, s := range []string{"proxy", "landing", "upload"} {
		if d, ok := v.defaults[s]; ok {
			parts = append(parts, s+" `"+d+"`")
		}
	}
	return strings.Join(parts, ", ")
}

func checkDefaultCell(v *envVar, name, cell string, add func(string, ...any)) {
	if d, ok := uniqueDefault(v); ok {
		if !strings.HasPrefix(cell, "`"+d+"`") {
			add("README.md: %s's default column says %q, want it to start with `%s` (the code's default)", name, cell, d)
		}
		return
	}
	if len(v.defaults) == 0 {
		if !strings.HasPrefix(cell, "empty") {
			add("README.md: %s has no default in the code; its default column should start with \"empty\", not %q", name, cell)
		}
		return
	}
	for s, d := range v.defaults {
		if !strings.Contains(cell, s+" `"+d+"`") {
			add("README.md: %s's default column %q lacks %s", name, cell, s+" `"+d+"`")
		}
	}
}
