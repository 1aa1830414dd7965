// Command landing is the alist-edge landing service.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/alist-edge/alist-edge/internal/config"
)

func main() {
	checkConfig := flag.Bool("check-config", false, "validate the configuration and exit")
	flag.Parse()
	cfg, err := config.LoadLanding(config.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *checkConfig {
		fmt.Println("configuration ok")
		return
	}
	_ = cfg
}
