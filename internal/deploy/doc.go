// Package deploy plans and executes rollouts: it turns a compose service into
// a container spec, creates the new release next to the old one, gates it on
// health, switches berth-proxy's route, drains and stops the old release, and
// rolls back. It also owns berth-proxy's lifecycle on a host and berth's own
// image there. Every Docker call goes through internal/engine.
package deploy
