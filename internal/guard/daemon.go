package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berthhq/berth/internal/policy"
)

// PluginDir is where the engine looks for plugin sockets: a plugin named N
// listens on PluginDir/N.sock and the engine runs with
// --authorization-plugin=N.
const PluginDir = "/run/docker/plugins"

// Options configure Run.
type Options struct {
	Socket string
	// Load reads the policy: at start, and again on every Reload signal.
	Load func() (policy.Policy, error)
	// Reload delivers a value for each reload request (SIGHUP).
	Reload <-chan os.Signal
	// Log gets one JSON line per decision and per event.
	Log *slog.Logger
	// WatchEvery is how often the socket is checked; 0: one second.
	WatchEvery time.Duration
}

// Run serves the authorization plugin protocol on o.Socket until ctx ends.
// A reload swaps the policy atomically: requests in flight finish with the
// policy they started with, and a policy that fails to load leaves the
// previous one in force. If the socket file disappears (a cleanup of
// /run, a second guard that exited), Run listens again at once: while the
// socket is gone the engine refuses every request.
func Run(ctx context.Context, o Options) error {
	if o.WatchEvery == 0 {
		o.WatchEvery = time.Second
	}
	pol, err := o.Load()
	if err != nil {
		return err
	}
	pol = ForGuard(pol)
	var judge atomic.Pointer[Judge]
	judge.Store(&Judge{Policy: pol})

	if err := os.MkdirAll(filepath.Dir(o.Socket), 0o755); err != nil {
		return fmt.Errorf("creating the plugin directory: %w", err)
	}
	if err := claimSocket(o.Socket); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           Handler(func() Judge { return *judge.Load() }, o.Log),
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	listen := func() (os.FileInfo, error) {
		l, err := net.Listen("unix", o.Socket)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", o.Socket, err)
		}
		if err := os.Chmod(o.Socket, 0o660); err != nil {
			l.Close()
			return nil, err
		}
		fi, err := os.Stat(o.Socket)
		if err != nil {
			l.Close()
			return nil, err
		}
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
		return fi, nil
	}
	ours, err := listen()
	if err != nil {
		return err
	}
	o.Log.Info("guard serving", "socket", o.Socket, "mode", pol.Mode, "threshold", pol.Threshold.String(),
		"rules", len(pol.AllRules()), "custom", len(pol.Custom), "waivers", len(pol.Waivers))

	tick := time.NewTicker(o.WatchEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := srv.Shutdown(sctx)
			cancel()
			if fi, serr := os.Stat(o.Socket); serr == nil && os.SameFile(fi, ours) {
				os.Remove(o.Socket)
			}
			o.Log.Info("guard stopped")
			return err
		case err := <-serveErr:
			return fmt.Errorf("serving %s: %w", o.Socket, err)
		case <-o.Reload:
			p, err := o.Load()
			if err != nil {
				o.Log.Error("policy reload failed; the previous policy stays in force", "error", err.Error())
				continue
			}
			p = ForGuard(p)
			judge.Store(&Judge{Policy: p})
			o.Log.Info("policy reloaded", "mode", p.Mode, "threshold", p.Threshold.String(),
				"rules", len(p.AllRules()), "custom", len(p.Custom), "waivers", len(p.Waivers))
		case <-tick.C:
			fi, err := os.Stat(o.Socket)
			if err == nil && os.SameFile(fi, ours) {
				continue
			}
			// Gone or replaced: take the path back, so the engine can
			// reach a guard again.
			o.Log.Warn("guard socket disappeared; listening again", "socket", o.Socket)
			if err == nil {
				os.Remove(o.Socket)
			}
			if ours, err = listen(); err != nil {
				o.Log.Error("cannot listen again; the engine refuses every request until the guard is back", "error", err.Error())
				return err
			}
		}
	}
}

// ForGuard is the policy as the guard applies it: only waivers marked
// guard: true. A waiver selects by container name, label or service, and
// at the guard all of those are chosen by whoever sends the request; a
// waiver meant for one trusted container would otherwise excuse anyone who
// names theirs the same.
func ForGuard(p policy.Policy) policy.Policy {
	var ws []policy.Waiver
	for _, w := range p.Waivers {
		if w.Guard {
			ws = append(ws, w)
		}
	}
	p.Waivers = ws
	return p
}

// claimSocket removes a stale socket file, and refuses when another guard
// answers on it.
func claimSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket (fix: remove it, or choose another --name)", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("another process already serves %s (fix: stop it, or run this guard with another --name)", path)
	} else if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	return os.Remove(path)
}
