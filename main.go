// Command certctl is a self-hosted certificate lifecycle platform in one binary.
package main

import (
	"os"

	"certctl/app/cli"
)

func main() {
	os.Exit(cli.Main(cli.Env{
		Args:   os.Args[1:],
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Lookup: os.LookupEnv,
	}))
}
