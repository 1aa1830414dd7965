package identity

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

const userUsage = `usage: landing user add NAME [--group GROUP]... [--file USERS_FILE]

Adds NAME to the users file, or replaces the user of that name, with an argon2id hash of a
password read from standard input (the first line), or asked for twice on a terminal without
echo. Other users and comments stay as written. --group may be repeated or comma-separated.
`

// RunUserCLI is `landing user …`: args are what follows "user". usersFile is USERS_FILE (the
// --file flag overrides it). It returns the exit code: 0 done, 1 failed, 2 usage.
func RunUserCLI(args []string, stdin io.Reader, stdout, stderr io.Writer, usersFile string) int {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var groups groupFlag
	fs.Var(&groups, "group", "a group of the user (repeat, or comma-separated)")
	file := fs.String("file", usersFile, "the users file")
	// Flags may come before or after NAME.
	rest := args[1:]
	var names []string
	for {
		if err := fs.Parse(rest); err != nil {
			fmt.Fprintf(stderr, "user add: %v\n%s", err, userUsage)
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(names) != 1 {
		fmt.Fprintf(stderr, "user add: want one NAME, got %d\n%s", len(names), userUsage)
		return 2
	}
	if *file == "" {
		fmt.Fprintf(stderr, "user add: no users file: set USERS_FILE or pass --file\n")
		return 2
	}
	name := names[0]
	if err := CheckName(name); err != nil {
		fmt.Fprintf(stderr, "user add: name %q: %v\n", name, err)
		return 2
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "user add: %v\n", err)
		return 1
	}
	_, existed := lookupFile(*file, name)
	if err := AddUser(*file, name, password, groups); err != nil {
		fmt.Fprintf(stderr, "user add: %v\n", err)
		return 1
	}
	verb := "added to"
	if existed {
		verb = "replaced in"
	}
	shown := "none"
	if len(groups) > 0 {
		shown = strings.Join(groups, ", ")
	}
	fmt.Fprintf(stdout, "user %q %s %s (groups: %s); send SIGHUP to the landing to load it\n", name, verb, *file, shown)
	return 0
}

func lookupFile(path, name string) (Identity, bool) {
	u, err := LoadUsers(path)
	if err != nil {
		return Identity{}, false
	}
	return u.Lookup(name)
}

type groupFlag []string

func (g *groupFlag) String() string { return strings.Join(*g, ",") }

func (g *groupFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*g = append(*g, s)
		}
	}
	return nil
}

// readPassword asks twice without echo on a terminal; otherwise it reads the first line, so
// `printf '%s\n' "$PW" | landing user add alice` and a here-document both work.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(first) != string(second) {
			return "", errors.New("the passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	if len(line) > MaxPasswordLen {
		return "", fmt.Errorf("password longer than %d bytes", MaxPasswordLen)
	}
	return line, nil
}
