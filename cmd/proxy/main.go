// Command proxy is the alist-edge download proxy.
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
	cfg, err := config.LoadProxy(config.Environ())
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
