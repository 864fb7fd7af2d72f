package config

import (
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// Config is a loaded, defaulted and validated berth.yaml together with the
// compose project it points at. Everything downstream of config reads only
// this; nothing re-reads the files.
type Config struct {
	// File is the absolute path of the berth.yaml this was loaded from.
	File string
	// App is the application name ([a-z0-9-]+); it prefixes every object
	// berth creates for the app.
	App string
	// ComposeFile is the absolute path of the main compose file (the first
	// of ComposeFiles).
	ComposeFile string
	// ComposeFiles are the absolute paths of every compose file read, in the
	// order they were merged (main file first, overrides after).
	ComposeFiles []string
	// Warnings are problems that do not stop a deploy (an unset variable),
	// each positioned like an error. Commands print them.
	Warnings []*Error
	// Hosts are the Docker endpoints, sorted by name. When berth.yaml names
	// none there is exactly one, named "default", whose Endpoint is
	// DOCKER_HOST (or the local socket).
	Hosts []Host
	Proxy Proxy
	// Policy configures the least-privilege rules.
	Policy Policy
	// Services are the compose services berth deploys, in dependency order
	// (a service comes after everything it depends_on).
	Services []*Service
	// Project is the compose project, interpolated, with env_file and
	// profiles applied as `docker compose` would.
	Project *types.Project
}

// Host is one Docker engine berth deploys to.
type Host struct {
	Name     string
	Endpoint string // unix:///path or tcp://host:port
	// TLS settings for tcp:// endpoints, from DOCKER_CERT_PATH and
	// DOCKER_TLS_VERIFY unless berth.yaml sets them.
	TLS *TLS
}

// TLS names the client certificate files for a tcp:// endpoint.
type TLS struct {
	CertPath string // directory with ca.pem, cert.pem, key.pem
	Verify   bool
}

// Proxy configures berth-proxy on every host.
type Proxy struct {
	// HTTP is the host address berth-proxy's HTTP listener is published
	// on, host:port (default 0.0.0.0:80).
	HTTP string
	// MaxBody is the largest request body the proxy forwards, in bytes
	// (default 100 MiB); larger bodies get 413.
	MaxBody int64
}

// Service is a compose service with its berth deployment settings.
type Service struct {
	Name  string
	Hosts []string // host names; default every host
	// Route is set for web services reached through berth-proxy; nil for
	// workers and accessories.
	Route     *Route
	Deploy    Deploy
	Accessory bool
	// Compose is the service as compose-go loaded it.
	Compose types.ServiceConfig
	// Source is where the service is defined: the compose file (absolute
	// path) and the line and column of its key. Line is 0 when unknown.
	Source Position
}

// Position is a place in an input file.
type Position struct {
	File   string // absolute path
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; 0 when unknown
}

// Route says how berth-proxy reaches and checks a web service.
type Route struct {
	Host   string // Host header matched, lower case, no port
	Port   int    // container port the app listens on
	Health string // HTTP path checked before a switch, default /up
	// HealthInterval is the pause between health checks (default 1s);
	// HealthRequestTimeout bounds each check request (default 2s). The
	// overall deadline is Deploy.HealthTimeout.
	HealthInterval       time.Duration
	HealthRequestTimeout time.Duration
}

// Deploy holds the rollout knobs of one service.
type Deploy struct {
	HealthTimeout time.Duration // default 30s
	Drain         time.Duration // default 10s
	MinReady      time.Duration // workers without HEALTHCHECK; default 5s
	Parallel      int           // hosts at a time; default 1
	Keep          int           // stopped releases kept for rollback; default 3
}

// Service returns the named service or nil.
func (c *Config) Service(name string) *Service {
	for _, s := range c.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Host returns the named host or nil.
func (c *Config) Host(name string) *Host {
	for i := range c.Hosts {
		if c.Hosts[i].Name == name {
			return &c.Hosts[i]
		}
	}
	return nil
}

// Kind names what the service is: "web" (routed through berth-proxy),
// "accessory" (long-lived, never replaced by a deploy) or "worker".
func (s *Service) Kind() string {
	switch {
	case s.Accessory:
		return "accessory"
	case s.Route != nil:
		return "web"
	}
	return "worker"
}

// IsWorker reports whether the service is a plain background process:
// deployed like a web service, but gated on its HEALTHCHECK or
// Deploy.MinReady instead of an HTTP route, and never accessory-protected.
func (s *Service) IsWorker() bool {
	return s.Route == nil && !s.Accessory
}
