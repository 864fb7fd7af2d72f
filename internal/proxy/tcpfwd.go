package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A port forwarder is berth-proxy's second mode: one small container per
// service with published ports (`berth proxy forward`). It listens on the
// service's ports and relays every TCP connection, and every UDP client's
// datagrams, to the one release that currently serves. Like a route, the
// target switches atomically (persisted first) and the previous target is
// drained: connections opened before the switch finish where they began,
// connections opened after it reach the new release.

// Listener is one port a forwarder listens on and where it relays to on the
// current target.
type Listener struct {
	Proto      string `json:"proto"` // tcp or udp
	Port       int    `json:"port"`  // inside the forwarder's container
	TargetPort int    `json:"target_port"`
}

func (l Listener) String() string {
	return fmt.Sprintf("%s/%d->%d", l.Proto, l.Port, l.TargetPort)
}

// ParseListener reads "tcp/5432" (same port on the target) or
// "udp/5353:53" (listen on 5353, relay to 53).
func ParseListener(s string) (Listener, error) {
	proto, ports, ok := strings.Cut(s, "/")
	if !ok || (proto != "tcp" && proto != "udp") {
		return Listener{}, fmt.Errorf("listener %q: want tcp/PORT or udp/PORT[:TARGET_PORT]", s)
	}
	lp, tp, hasTarget := strings.Cut(ports, ":")
	l := Listener{Proto: proto}
	var err error
	if l.Port, err = strconv.Atoi(lp); err != nil || l.Port < 1 || l.Port > 65535 {
		return Listener{}, fmt.Errorf("listener %q: bad port %q", s, lp)
	}
	l.TargetPort = l.Port
	if hasTarget {
		if l.TargetPort, err = strconv.Atoi(tp); err != nil || l.TargetPort < 1 || l.TargetPort > 65535 {
			return Listener{}, fmt.Errorf("listener %q: bad target port %q", s, tp)
		}
	}
	return l, nil
}

// Defaults of a forwarder.
const (
	DefaultForwardAdminSocket = "/run/berth/forward.sock"
	DefaultForwardStateFile   = "/var/lib/berth-forward/state.json"
	DefaultUDPIdle            = 60 * time.Second
	// dialRetry bounds how long a new connection waits for its target to
	// accept: a restarting container refuses for a moment, and a client
	// is better served late than reset.
	dialRetry   = 3 * time.Second
	dialTimeout = 5 * time.Second
)

// ForwardOptions configures a forwarder.
type ForwardOptions struct {
	Listeners   []Listener
	ListenHost  string // "" listens on every address of the container
	AdminSocket string
	StateFile   string
	// UDPIdle ends a UDP client's session after that long without a
	// datagram either way.
	UDPIdle time.Duration
	Logger  *slog.Logger
	// Dial reaches a target; nil dials the network (tests redirect it).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o ForwardOptions) withDefaults() ForwardOptions {
	if o.AdminSocket == "" {
		o.AdminSocket = DefaultForwardAdminSocket
	}
	if o.StateFile == "" {
		o.StateFile = DefaultForwardStateFile
	}
	if o.UDPIdle <= 0 {
		o.UDPIdle = DefaultUDPIdle
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	return o
}

// Forwarder relays the listeners' traffic to the current target.
type Forwarder struct {
	opts ForwardOptions
	log  *slog.Logger

	mu sync.Mutex
	// targets are the container names (or addresses) new connections
	// reach: the replicas of the serving release.
	targets []string
	rr      int // round-robin start among targets with as few relays
	// live holds every open relay (TCP connection or UDP session) by the
	// target it was opened to, so a drain can wait for, and cut, exactly
	// those of the old target.
	live map[string]map[relay]struct{}
	// writeMu serialises switches: persist then publish as one step.
	writeMu sync.Mutex

	ready chan struct{} // closed once every listener is bound
	bound []net.Addr    // the listeners' addresses, in Listeners order
}

// Addrs waits until Serve has bound every listener and returns their
// addresses in the order of the options' Listeners.
func (f *Forwarder) Addrs() []net.Addr {
	<-f.ready
	return f.bound
}

// relay is one TCP connection or UDP session.
type relay interface {
	close()
	// quiet reports whether the relay can be cut without losing a
	// request: a TCP connection never is, a UDP session is once idle.
	quiet(since time.Duration) bool
}

// NewForwarder loads the target persisted in opts.StateFile (none on a
// first start).
func NewForwarder(opts ForwardOptions) (*Forwarder, error) {
	opts = opts.withDefaults()
	if len(opts.Listeners) == 0 {
		return nil, errors.New("forward: no listeners (fix: pass --listen tcp/PORT)")
	}
	targets, err := loadForwardState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	return &Forwarder{opts: opts, log: opts.Logger, targets: targets, live: map[string]map[relay]struct{}{}, ready: make(chan struct{})}, nil
}

// Targets returns the current targets.
func (f *Forwarder) Targets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets)
}

// SetTargets switches new connections to targets (the replicas of one
// release) and returns the previous ones. The switch is persisted before it
// takes effect, so a restarted forwarder never relays to a target the
// deployer has moved away from.
func (f *Forwarder) SetTargets(targets []string) ([]string, error) {
	if len(targets) == 0 {
		return nil, &InvalidError{errors.New("targets: want at least one")}
	}
	for _, t := range targets {
		if err := validTargetHost(t); err != nil {
			return nil, &InvalidError{err}
		}
	}
	targets = slices.Clone(targets)
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	if err := saveForwardState(f.opts.StateFile, targets); err != nil {
		return nil, err
	}
	f.mu.Lock()
	prev := f.targets
	f.targets = targets
	f.mu.Unlock()
	f.log.Info("forward targets set", "targets", targets, "previous", prev)
	return prev, nil
}

func validTargetHost(t string) error {
	if t == "" || strings.ContainsAny(t, " /:\t\n") {
		return fmt.Errorf("target %q: want a container name or IP address (no port)", t)
	}
	return nil
}

// open registers a relay to one of the current targets and returns it;
// "" means there is none yet.
func (f *Forwarder) open(r relay) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.pickLocked()
	if t != "" {
		f.addLocked(t, r)
	}
	return t
}

// pickLocked chooses the target with the fewest open relays, ties going
// round robin, as berth-proxy chooses among a route's replicas.
func (f *Forwarder) pickLocked() string {
	n := len(f.targets)
	if n == 0 {
		return ""
	}
	f.rr = (f.rr + 1) % n
	best := ""
	for i := range n {
		t := f.targets[(f.rr+i)%n]
		if best == "" || len(f.live[t]) < len(f.live[best]) {
			best = t
		}
	}
	return best
}

func (f *Forwarder) addLocked(target string, r relay) {
	m := f.live[target]
	if m == nil {
		m = map[relay]struct{}{}
		f.live[target] = m
	}
	m[r] = struct{}{}
}

// move re-registers r under a current target, for a dial retried after a
// switch took its target away.
func (f *Forwarder) move(r relay, from string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.targets) == 0 || slices.Contains(f.targets, from) {
		return from
	}
	f.removeLocked(from, r)
	t := f.pickLocked()
	f.addLocked(t, r)
	return t
}

func (f *Forwarder) done(target string, r relay) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeLocked(target, r)
}

func (f *Forwarder) removeLocked(target string, r relay) {
	if m := f.live[target]; m != nil {
		delete(m, r)
		if len(m) == 0 {
			delete(f.live, target)
		}
	}
}

// Serve listens on every listener and the admin socket until ctx ends.
func (f *Forwarder) Serve(ctx context.Context, adminLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closers []io.Closer
	errc := make(chan error, len(f.opts.Listeners)+1)
	var wg sync.WaitGroup
	for _, l := range f.opts.Listeners {
		addr := f.opts.ListenHost + ":" + strconv.Itoa(l.Port)
		switch l.Proto {
		case "tcp":
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				closeAll(closers)
				return fmt.Errorf("forward: listening on %s: %w", l, err)
			}
			closers = append(closers, ln)
			f.bound = append(f.bound, ln.Addr())
			wg.Go(func() { errc <- f.serveTCP(ctx, ln, l) })
		case "udp":
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				closeAll(closers)
				return fmt.Errorf("forward: listening on %s: %w", l, err)
			}
			closers = append(closers, pc)
			f.bound = append(f.bound, pc.LocalAddr())
			wg.Go(func() { errc <- f.serveUDP(ctx, pc.(*net.UDPConn), l) })
		}
	}
	close(f.ready)
	closers = append(closers, adminLn)
	srv := newAdminServer(f.AdminHandler())
	wg.Go(func() { errc <- srv.Serve(adminLn) })
	f.log.Info("berth forwarder serving", "listeners", fmt.Sprint(f.opts.Listeners), "targets", f.Targets(), "admin", adminLn.Addr().String())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	closeAll(closers)
	_ = srv.Close()
	f.mu.Lock()
	for _, m := range f.live {
		for r := range m {
			r.close()
		}
	}
	f.mu.Unlock()
	wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// RunForwarder serves a forwarder until ctx ends.
func RunForwarder(ctx context.Context, opts ForwardOptions) error {
	f, err := NewForwarder(opts)
	if err != nil {
		return err
	}
	adminLn, err := listenAdmin(f.opts.AdminSocket)
	if err != nil {
		return err
	}
	return f.Serve(ctx, adminLn)
}
