// Package proxy is berth-proxy: the per-host reverse proxy that makes deploys
// zero-downtime.
//
// It owns the route table (Host header -> the current target containers: one, or
// the replicas of a release, chosen by fewest requests in flight), the atomic
// switch of a route from one set of targets to another, in-flight tracking and
// draining of the old targets, HTTP health checks run from inside the Docker network, the state
// file that lets a restarted proxy route exactly as before, the access log, and the
// admin API (HTTP+JSON on a unix socket) together with the client the CLI uses to
// drive it through `docker exec`.
//
// The same package is also a service's port forwarder (`berth proxy
// forward`, tcpfwd*.go and udpfwd.go): TCP connections and UDP sessions on a
// service's published ports relayed to one switchable target, drained like a
// route, with its own state file and admin API of the same shape.
//
// It does not know about releases, containers or Docker: internal/deploy decides
// which target a route should point at and when to drain; this package makes the
// switch safe.
package proxy
