// Package audit answers "what is wrong with this setup?" for every host:
// the engine's settings from its API (engine_checks.go), the host's files
// when berth runs on the host (host_*.go), every container judged by the
// policy rules (run.go), and every image (image_checks.go). Each check has
// a stable ID, the CIS Docker Benchmark item it maps to, a severity, and a
// result with the evidence seen and the fix; what cannot be checked is
// skipped with the reason, never reported as a pass.
package audit
