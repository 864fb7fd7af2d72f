package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// HealthError says a new release never became healthy. It never received
// traffic; the previous release keeps serving.
type HealthError struct {
	Host      string
	Service   string
	Container string
	Release   int
	Timeout   time.Duration
	LastCheck string // the last health check result, human readable
	Logs      string // the container's last log lines
	Accessory bool   // a long-lived service: there is no previous release
}

func (e *HealthError) Error() string {
	var b strings.Builder
	if e.Accessory {
		fmt.Fprintf(&b, "host %s: accessory %s (%s) did not become ready within %s.\nlast check: %s",
			e.Host, e.Service, e.Container, e.Timeout, e.LastCheck)
	} else {
		fmt.Fprintf(&b, "host %s: service %s: release %d (%s) did not become healthy within %s; it received no traffic and the previous release keeps serving.\nlast health check: %s",
			e.Host, e.Service, e.Release, e.Container, e.Timeout, e.LastCheck)
	}
	if e.Logs != "" {
		fmt.Fprintf(&b, "\nlast log lines of %s:\n%s", e.Container, indent(strings.TrimRight(e.Logs, "\n")))
	}
	b.WriteString("\n(fix: read the logs above; check that route.port and route.health match the app, or raise deploy.health_timeout)")
	return b.String()
}

func indent(s string) string {
	return "  | " + strings.ReplaceAll(s, "\n", "\n  | ")
}

// NameTakenError says a container berth wants to create has a name held by
// something that is not berth's.
type NameTakenError struct {
	Host, Name string
}

func (e *NameTakenError) Error() string {
	return fmt.Sprintf("host %s: a container named %s already exists and is not managed by berth (fix: rename or remove it: docker rename %s %s-old)", e.Host, e.Name, e.Name, e.Name)
}

// ImageMissingError says an image is neither on the host nor pullable.
type ImageMissingError struct {
	Host, Service, Image string
	Err                  error
}

func (e *ImageMissingError) Error() string {
	return fmt.Sprintf("host %s: service %s: image %s is not on the host and could not be pulled: %v (fix: push it to a registry the host can reach, or load it there with `docker load`)", e.Host, e.Service, e.Image, e.Err)
}

func (e *ImageMissingError) Unwrap() error { return e.Err }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cleanupCtx outlives a cancelled deploy just long enough to undo what it
// started: Ctrl-C must not leave half a release behind.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
}
