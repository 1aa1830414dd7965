package admin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAddr is where the CLI looks for the admin API when ADMIN_ADDR is not set: the
// proxy's default admin listener.
const DefaultAddr = "127.0.0.1:9090"

// request is one API call a command builds from its flags.
type request struct {
	method, path string
	q            url.Values
	body         any
}

// command is one `admin` subcommand: its flags build the request, print renders the answer
// as text (-json prints it as the API sent it).
type command struct {
	name, args, summary string
	setup               func(fs *flag.FlagSet) func() (request, error)
	print               func(w io.Writer, body []byte) error
}

var commands = []command{
	{"explain", "-path P -ip A [-at T] [-size N] [-method M] [-host H] [-user U] [-group G]...",
		"why a request would be allowed or refused", explainCmd, printTree},
	{"usage", "-quota Q (-key K | -subnet S [-path P] [-user U] [-group G])",
		"a counter's usage and its limit", func(fs *flag.FlagSet) func() (request, error) {
			ref := refFlags(fs)
			return func() (request, error) { return request{"GET", "/usage", ref.values(), nil}, ref.check() }
		}, printUsage},
	{"set-usage", "-quota Q (-key K | -subnet S ...) [-bytes N] [-requests N] [-window-end T]",
		"overwrite a counter (fields left out keep their value)", setUsageCmd, printUsage},
	{"reset-usage", "-quota Q (-key K | -subnet S ...)",
		"zero a counter", func(fs *flag.FlagSet) func() (request, error) {
			ref := refFlags(fs)
			return func() (request, error) { return request{"DELETE", "/usage", ref.values(), nil}, ref.check() }
		}, printUsage},
	{"blocks", "", "the rate and bandwidth blocks and bans in force",
		func(fs *flag.FlagSet) func() (request, error) {
			return func() (request, error) { return request{"GET", "/blocks", nil, nil}, nil }
		}, printBlocks},
	{"unban", "-subnet S [-scope proxy|landing|upload]", "lift the blocks and bans of a subnet", unbanCmd, printUnban},
	{"revoke", "-path P [-prefix] (-ttl D | -until T)", "refuse links to a path (or under it) with 410", revokeCmd, printRevoked},
	{"revocations", "", "the revocations in force",
		func(fs *flag.FlagSet) func() (request, error) {
			return func() (request, error) { return request{"GET", "/revocations", nil, nil}, nil }
		}, printRevocations},
	{"unrevoke", "-path P [-prefix]", "remove a revocation", unrevokeCmd, printUnrevoked},
	{"sessions", "[-user U]", "the active sign-in sessions", sessionsCmd, printSessions},
	{"end-session", "-id ID | -user U", "end a session, or every session of a user", endSessionCmd, printEnded},
}

// RunCLI runs `proxy admin <command> [flags]`; args are the words after "admin". It talks
// to ADMIN_ADDR (env; DefaultAddr if unset) with ADMIN_TOKEN. Exit codes: 0 done, 1 the
// server refused or could not be reached, 2 a usage error (nothing was sent).
func RunCLI(args []string, env map[string]string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "-help" || name == "--help" {
		usage(stdout)
		return 0
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == name {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "admin: unknown command %q\n", name)
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("admin "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: admin %s %s [-json]\n  %s\n", cmd.name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	jsonOut := fs.Bool("json", false, "print the API's JSON answer as is")
	build := cmd.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "admin %s: unexpected argument %q (flags only)\n", name, fs.Arg(0))
		return 2
	}
	req, err := build()
	if err != nil {
		fmt.Fprintf(stderr, "admin %s: %v\n", name, err)
		return 2
	}
	addr := env["ADMIN_ADDR"]
	if addr == "" {
		addr = DefaultAddr
	}
	c, err := NewClient(addr, env["ADMIN_TOKEN"])
	if err != nil {
		fmt.Fprintf(stderr, "admin: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, err := c.Do(ctx, req.method, req.path, req.q, req.body)
	if err != nil {
		fmt.Fprintf(stderr, "admin %s: %v\n", name, err)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && env["ADMIN_TOKEN"] == "" {
			fmt.Fprintln(stderr, "admin: set ADMIN_TOKEN to the service's token")
		}
		return 1
	}
	if *jsonOut {
		_, err = stdout.Write(body)
	} else {
		err = cmd.print(stdout, body)
	}
	if err != nil {
		fmt.Fprintf(stderr, "admin %s: %v\n", name, err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: proxy admin <command> [flags] [-json]\n\n"+
		"Talks to the admin API at ADMIN_ADDR (default "+DefaultAddr+"; unix:PATH for a socket)\n"+
		"with the bearer token in ADMIN_TOKEN. Times are RFC 3339. `admin <command> -h` lists a\n"+
		"command's flags.\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

// strings is a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func explainCmd(fs *flag.FlagSet) func() (request, error) {
	q := map[string]*string{}
	for _, f := range []struct{ name, help string }{
		{"path", "the path asked for (required)"}, {"ip", "the client address (required)"},
		{"at", "the time of the request, RFC 3339 (default now)"}, {"size", "the file size in bytes"},
		{"method", "the HTTP method (default GET)"}, {"host", "the Host asked for"}, {"user", "the user"},
	} {
		q[f.name] = fs.String(f.name, "", f.help)
	}
	var groups stringsFlag
	fs.Var(&groups, "group", "a group of the user (repeatable)")
	return func() (request, error) {
		if *q["path"] == "" || *q["ip"] == "" {
			return request{}, errors.New("-path and -ip are required")
		}
		v := url.Values{}
		for k, p := range q {
			if *p != "" {
				v.Set(k, *p)
			}
		}
		for _, g := range groups {
			v.Add("group", g)
		}
		return request{"GET", "/policy/explain", v, nil}, nil
	}
}

// refFlagSet are the flags naming a counter (counterRef).
type refFlagSet struct{ quota, key, subnet, path, user, group *string }

func refFlags(fs *flag.FlagSet) *refFlagSet {
	return &refFlagSet{
		quota:  fs.String("quota", "", "the [quotas.*] or [rates.*] name (required)"),
		key:    fs.String("key", "", "the counter's stored key (instead of -subnet/-path/-user/-group)"),
		subnet: fs.String("subnet", "", "the client address or subnet"),
		path:   fs.String("path", "", "the path, for per-path scopes"),
		user:   fs.String("user", "", "the user, for per-user scopes"),
		group:  fs.String("group", "", "the group, for per-group scopes"),
	}
}

func (r *refFlagSet) check() error {
	if *r.quota == "" {
		return errors.New("-quota is required")
	}
	return nil
}

func (r *refFlagSet) ref() counterRef {
	return counterRef{*r.quota, *r.key, *r.subnet, *r.path, *r.user, *r.group}
}

func (r *refFlagSet) values() url.Values {
	v := url.Values{}
	for k, p := range map[string]string{"quota": *r.quota, "key": *r.key, "subnet": *r.subnet, "path": *r.path, "user": *r.user, "group": *r.group} {
		if p != "" {
			v.Set(k, p)
		}
	}
	return v
}

func setUsageCmd(fs *flag.FlagSet) func() (request, error) {
	ref := refFlags(fs)
	var b setBody
	fs.Func("bytes", "bytes used in the window", int64Flag(&b.Bytes))
	fs.Func("requests", "requests made in the window", int64Flag(&b.Requests))
	fs.Func("window-end", "when the window ends, RFC 3339 (default: the running window's end, or the period's)", func(s string) error {
		t, err := time.Parse(time.RFC3339, s)
		b.WindowEnd = &t
		return err
	})
	return func() (request, error) {
		if b.Bytes == nil && b.Requests == nil && b.WindowEnd == nil {
			return request{}, errors.New("give -bytes, -requests or -window-end")
		}
		b.counterRef = ref.ref()
		return request{"PUT", "/usage", nil, b}, ref.check()
	}
}

func int64Flag(p **int64) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(s, 10, 64)
		*p = &n
		return err
	}
}

func unbanCmd(fs *flag.FlagSet) func() (request, error) {
	subnet := fs.String("subnet", "", "the client address or subnet (required)")
	scope := fs.String("scope", "", "proxy, landing or upload (default: the service's)")
	return func() (request, error) {
		if *subnet == "" {
			return request{}, errors.New("-subnet is required")
		}
		v := url.Values{"subnet": {*subnet}}
		if *scope != "" {
			v.Set("scope", *scope)
		}
		return request{"DELETE", "/blocks", v, nil}, nil
	}
}

func revokeCmd(fs *flag.FlagSet) func() (request, error) {
	var b revokeBody
	fs.StringVar(&b.Path, "path", "", "the path (required)")
	fs.BoolVar(&b.Prefix, "prefix", false, "revoke every path under it")
	fs.StringVar(&b.TTL, "ttl", "", "for how long, a Go duration (24h)")
	fs.Func("until", "until when, RFC 3339", func(s string) error {
		t, err := time.Parse(time.RFC3339, s)
		b.Until = &t
		return err
	})
	return func() (request, error) {
		if b.Path == "" || (b.TTL == "") == (b.Until == nil) {
			return request{}, errors.New("-path and one of -ttl or -until are required")
		}
		return request{"POST", "/revocations", nil, b}, nil
	}
}

func unrevokeCmd(fs *flag.FlagSet) func() (request, error) {
	path := fs.String("path", "", "the path (required)")
	prefix := fs.Bool("prefix", false, "the revocation is of a prefix")
	return func() (request, error) {
		if *path == "" {
			return request{}, errors.New("-path is required")
		}
		return request{"DELETE", "/revocations", url.Values{"path": {*path}, "prefix": {strconv.FormatBool(*prefix)}}, nil}, nil
	}
}
