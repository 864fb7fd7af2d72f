// Package version holds berth's own version, stamped at build time with
// -ldflags "-X github.com/berthhq/berth/internal/version.Version=v1.2.3".
package version

// Version is berth's release version; "dev" for local builds.
var Version = "dev"
