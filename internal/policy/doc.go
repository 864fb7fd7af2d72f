// Package policy owns berth's least-privilege rules: one normalized Spec of
// a container, whatever it came from (a compose service at deploy time, a
// running container's inspect, a create request seen by the authorization
// plugin), and the built-in rules that judge it, each with a stable ID, the
// CIS Docker Benchmark item it maps to, a severity, the reason and the fix.
package policy
