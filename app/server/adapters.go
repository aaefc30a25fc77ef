package server

import (
	"certctl/app/deploy"
	"certctl/app/netscan"
)

// targetTypes gives the agent service the deploy engine's knowledge of target types, so
// that a configuration is checked on save by the same code that deploys it.
type targetTypes struct{}

func (targetTypes) Check(typ string, config []byte, allowedPaths []string) error {
	return deploy.Check(typ, config, allowedPaths)
}

func (targetTypes) SecretFields(typ string) []string { return deploy.SecretFields(typ) }

// networkScanner is the network discovery scanner with its default limits.
type networkScanner = netscan.Scanner
