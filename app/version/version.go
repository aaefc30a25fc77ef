// Package version reports what build of certctl is running.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X certctl/app/version.Version=v1.2.3".
var Version = "dev"

// Info describes the running build.
type Info struct {
	Version   string
	Commit    string
	GoVersion string
	Platform  string
}

// Get returns the running build's description, with the VCS revision when Go recorded one.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Commit = s.Value
			}
		}
	}
	return info
}
