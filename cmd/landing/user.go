package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alist-edge/alist-edge/internal/identity"
)

// userStdin is where `landing user add` reads the password (tests replace it).
var userStdin io.Reader = os.Stdin

// userCmd is `landing user add NAME [--group G]... [--file F]`: it writes a password hash into
// USERS_FILE (from the environment and -env-file). The configuration is not validated: the
// users file may not exist yet.
func userCmd(args []string, environ func() (map[string]string, error), stdout, stderr io.Writer) int {
	env, err := environ()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	return identity.RunUserCLI(args, userStdin, stdout, stderr, env["USERS_FILE"])
}
