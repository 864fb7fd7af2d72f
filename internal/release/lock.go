package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/berthhq/berth/internal/engine"
)

// Lock labels: who holds the lock, since when and why.
const (
	labelLockHolder = "berth.lock.holder"
	labelLockSince  = "berth.lock.since"
	labelLockReason = "berth.lock.reason"
)

// LockEngine is what the lock needs from an engine. The lock is a created,
// never started container: container names are unique per engine and create
// is atomic, so exactly one of two racing deploys wins.
type LockEngine interface {
	CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error)
	InspectContainer(ctx context.Context, idOrName string) (engine.ContainerInfo, error)
	RemoveContainer(ctx context.Context, id string, force bool) error
	Host() string
}

// Lock describes a held lock.
type Lock struct {
	ID     string    `json:"-"` // the lock container; set when this process holds it
	App    string    `json:"app"`
	Host   string    `json:"host"`
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
}

// HeldError is returned when another deploy holds the app's lock.
type HeldError struct{ Lock Lock }

func (e *HeldError) Error() string {
	return fmt.Sprintf("app %s is locked on host %s by %s since %s (%s ago) for %q (fix: wait for it to finish, retry with --lock-wait 5m, or if no deploy is running, run `berth lock release`)",
		e.Lock.App, e.Lock.Host, e.Lock.Holder, e.Lock.Since.Format(time.RFC3339), time.Since(e.Lock.Since).Round(time.Second), e.Lock.Reason)
}

// LockName is the name of an app's lock container.
func LockName(app string) string { return "berth-lock-" + app }

// Holder names this process for the lock: user@hostname pid.
func Holder() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}

// Acquire takes the app's lock, waiting up to wait for a holder to let go
// (0: fail at once). image is any local image; the lock never runs.
func Acquire(ctx context.Context, eng LockEngine, app, image, reason string, wait time.Duration) (Lock, error) {
	lock := Lock{App: app, Host: eng.Host(), Holder: Holder(), Since: time.Now().UTC().Truncate(time.Second), Reason: reason}
	spec := engine.ContainerSpec{
		Name:  LockName(app),
		Image: image,
		Labels: map[string]string{
			LabelManaged: "true", LabelApp: app, LabelRole: RoleLock,
			labelLockHolder: lock.Holder, labelLockSince: lock.Since.Format(time.RFC3339), labelLockReason: reason,
		},
	}
	deadline := time.Now().Add(wait)
	for {
		id, err := eng.CreateContainer(ctx, spec)
		if err == nil {
			lock.ID = id
			return lock, nil
		}
		if ctx.Err() != nil {
			// Interrupted mid-create: the engine may have made the lock
			// anyway. Take back ours, never someone else's.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if held, _ := Status(cctx, eng, app); held != nil && held.Holder == lock.Holder && held.Since.Equal(lock.Since) {
				_ = eng.RemoveContainer(cctx, LockName(app), true)
			}
			cancel()
			return Lock{}, ctx.Err()
		}
		if !engine.IsConflict(err) {
			return Lock{}, fmt.Errorf("taking the deploy lock: %w", err)
		}
		held, serr := Status(ctx, eng, app)
		if serr != nil {
			return Lock{}, serr
		}
		if held == nil { // released between our create and inspect
			continue
		}
		if time.Now().After(deadline) {
			return Lock{}, &HeldError{Lock: *held}
		}
		select {
		case <-ctx.Done():
			return Lock{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Status returns the held lock, or nil when the app is not locked.
func Status(ctx context.Context, eng LockEngine, app string) (*Lock, error) {
	info, err := eng.InspectContainer(ctx, LockName(app))
	if err != nil {
		if engine.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the deploy lock: %w", err)
	}
	since, _ := time.Parse(time.RFC3339, info.Labels[labelLockSince])
	return &Lock{App: app, Host: eng.Host(), Holder: info.Labels[labelLockHolder], Since: since, Reason: info.Labels[labelLockReason]}, nil
}

// UnlockHeld releases a lock this process took, by the lock container's ID:
// if somebody ran `berth lock release` meanwhile and another deploy took the
// lock, that deploy's lock is left alone.
func UnlockHeld(ctx context.Context, eng LockEngine, lock Lock) error {
	if err := eng.RemoveContainer(ctx, lock.ID, true); err != nil && !engine.IsNotFound(err) {
		return fmt.Errorf("releasing the deploy lock: %w", err)
	}
	return nil
}

// Unlock lets go of the app's lock. Releasing a lock nobody holds is not an
// error, so a deferred release after a crash-recovery release is harmless.
func Unlock(ctx context.Context, eng LockEngine, app string) error {
	if err := eng.RemoveContainer(ctx, LockName(app), true); err != nil && !errors.Is(err, context.Canceled) && !engine.IsNotFound(err) {
		return fmt.Errorf("releasing the deploy lock: %w", err)
	}
	return nil
}
