package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied to zero Options fields.
const (
	DefaultListen          = ":80"
	DefaultAdminSocket     = "/run/berth/admin.sock"
	DefaultStateFile       = "/var/lib/berth-proxy/state.json"
	DefaultMaxBody         = 100 << 20
	DefaultShutdownTimeout = 8 * time.Second // inside docker stop's default 10 s grace
)

// Options configures berth-proxy. Zero fields take the Default* values.
type Options struct {
	Listen      string // proxy listen address, e.g. ":80"
	AdminSocket string // unix socket for the admin API
	StateFile   string // where routes persist across restarts
	// MaxBody limits request bodies in bytes; 0 means DefaultMaxBody, a
	// negative value means no limit.
	MaxBody   int64
	Logger    *slog.Logger // daemon log; nil logs JSON to stderr
	AccessLog io.Writer    // one JSON line per request; nil disables it
	// ShutdownTimeout bounds the graceful part of shutdown, after which
	// remaining connections are closed.
	ShutdownTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.AdminSocket == "" {
		o.AdminSocket = DefaultAdminSocket
	}
	if o.StateFile == "" {
		o.StateFile = DefaultStateFile
	}
	if o.MaxBody == 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o
}

// Server is berth-proxy: the routing handler plus its admin API. It can be
// embedded in tests of other packages through NewServer and Serve.
type Server struct {
	opts    Options
	log     *slog.Logger
	maxBody int64 // <= 0: unlimited
	targets *targets
	checker *checker
	alog    *accessLog

	table    atomic.Pointer[table]
	stopping atomic.Bool // shutting down: connections end after their request
	// mu serialises route writers so that build, persist and publish happen
	// as one step; readers never take it.
	mu sync.Mutex
}

// NewServer loads the routes persisted in opts.StateFile and returns a Server
// ready to Serve. A missing state file means no routes.
func NewServer(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	s := &Server{opts: opts, log: opts.Logger, maxBody: opts.MaxBody, checker: newChecker()}
	s.targets = newTargets()

	routes, err := loadState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	t := emptyTable()
	for _, r := range routes {
		if t, err = t.with(r, s.targets.get); err != nil {
			return nil, fmt.Errorf("proxy state %s: %w", opts.StateFile, err)
		}
	}
	s.table.Store(t)
	if opts.AccessLog != nil {
		s.alog = newAccessLog(opts.AccessLog, s.log)
	}
	return s, nil
}

// Run serves the proxy on opts.Listen and the admin API on opts.AdminSocket
// until ctx is cancelled, then shuts down gracefully within ShutdownTimeout.
func Run(ctx context.Context, opts Options) error {
	s, err := NewServer(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		s.closeAccessLog()
		return fmt.Errorf("proxy: listening on %s: %w", s.opts.Listen, err)
	}
	adminLn, err := listenAdmin(s.opts.AdminSocket)
	if err != nil {
		ln.Close()
		s.closeAccessLog()
		return err
	}
	return s.Serve(ctx, ln, adminLn)
}

// listenAdmin opens the admin socket, readable by root only: whoever can talk
// to it can point any host name anywhere.
func listenAdmin(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("proxy: admin socket directory: %w", err)
	}
	// A socket left behind by a killed proxy would make Listen fail.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("proxy: admin socket %s exists and is not a socket; remove it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("proxy: removing stale admin socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("proxy: admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("proxy: admin socket %s: %w", path, err)
	}
	return ln, nil
}

// Serve serves proxy traffic on ln and the admin API on adminLn until ctx is
// cancelled or a listener fails. It closes both listeners and may be called
// once.
func (s *Server) Serve(ctx context.Context, ln, adminLn net.Listener) error {
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	h1 := newH1Server(s)
	as := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}

	errc := make(chan error, 2)
	go func() { errc <- h1.serve(ln) }()
	stopSweep := make(chan struct{})
	defer close(stopSweep)
	go h1.sweep(stopSweep)
	go func() { errc <- as.Serve(adminLn) }()
	s.log.Info("berth-proxy serving", "listen", ln.Addr().String(), "admin", adminLn.Addr().String(),
		"routes", len(s.table.Load().byKey), "state", s.opts.StateFile)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("proxy: serving: %w", err)
		}
	}
	s.shutdown(ln, h1, as)
	return err
}

// shutdown stops accepting, lets requests in flight finish within
// ShutdownTimeout, then closes what is left.
func (s *Server) shutdown(ln net.Listener, h1 *h1server, as *http.Server) {
	s.log.Info("berth-proxy shutting down", "timeout", s.opts.ShutdownTimeout.String())
	deadline := time.Now().Add(s.opts.ShutdownTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	s.stopping.Store(true)
	h1.mu.Lock()
	h1.closed = true
	h1.mu.Unlock()
	ln.Close()
	var wg sync.WaitGroup
	wg.Go(func() { h1.shutdown(deadline) })
	wg.Go(func() {
		if err := as.Shutdown(ctx); err != nil {
			as.Close()
		}
	})
	wg.Wait()
	for _, t := range s.targets.all() {
		t.closeConns()
	}
	s.closeAccessLog()
	s.log.Info("berth-proxy stopped")
}

func (s *Server) closeAccessLog() {
	if s.alog != nil {
		s.alog.close()
	}
}

// ErrNoRoute is returned when deleting a route that does not exist.
var ErrNoRoute = errors.New("no such route")

// InvalidError marks a request the caller must fix (admin API: 400).
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Routes returns the current routes sorted by key, with in-flight counts.
func (s *Server) Routes() []Route { return s.table.Load().routes() }

// SetRoute creates or switches the route r.Key and returns the target it
// replaced (the first, when there were several); SwitchRoute returns all.
func (s *Server) SetRoute(r Route) (previous string, err error) {
	prev, err := s.SwitchRoute(r)
	if len(prev) > 0 {
		previous = prev[0]
	}
	return previous, err
}

// SwitchRoute creates or switches the route r.Key and returns the targets it
// replaced. All of the route's targets change in one step: a request sees
// either the old set or the new one. The new table is persisted before it is
// published, so a route that serves traffic is always one a restarted proxy
// would also serve.
func (s *Server) SwitchRoute(r Route) (previous []string, err error) {
	r, err = r.normalize()
	if err != nil {
		return nil, &InvalidError{err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.table.Load()
	if e, ok := cur.byKey[r.Key]; ok {
		previous = slices.Clone(e.route.Targets)
	}
	next, err := cur.with(r, s.targets.get)
	if err != nil {
		return nil, &InvalidError{err}
	}
	if err := saveState(s.opts.StateFile, next.routes()); err != nil {
		return nil, err
	}
	for _, t := range next.byKey[r.Key].targets {
		t.refused.Store(false) // routed again (a rollback): dials are welcome
	}
	s.table.Store(next)
	s.log.Info("route set", "key", r.Key, "hosts", r.Hosts, "targets", r.Targets, "previous", previous)
	return previous, nil
}

// DeleteRoute removes the route key; requests for its hosts then get 404.
func (s *Server) DeleteRoute(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, ok := s.table.Load().without(key)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoRoute, key)
	}
	if err := saveState(s.opts.StateFile, next.routes()); err != nil {
		return err
	}
	s.table.Store(next)
	s.log.Info("route deleted", "key", key)
	return nil
}
