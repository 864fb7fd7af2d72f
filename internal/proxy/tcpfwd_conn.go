package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// tcpRelay is one client connection and its upstream.
type tcpRelay struct {
	client net.Conn
	mu     sync.Mutex
	up     net.Conn
	closed bool
}

func (r *tcpRelay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	_ = r.client.Close()
	if r.up != nil {
		_ = r.up.Close()
	}
}

func (r *tcpRelay) quiet(time.Duration) bool { return false }

// setUp records the upstream, unless a drain cut the relay meanwhile.
func (r *tcpRelay) setUp(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.up = c
	return true
}

// serveTCP accepts until the listener closes. Temporary accept errors
// (out of file descriptors) pause instead of ending the forwarder.
func (f *Forwarder) serveTCP(ctx context.Context, ln net.Listener, l Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			f.log.Warn("forward: accept failed", "listener", l.String(), "err", err.Error(), "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go f.relayTCP(ctx, c, l)
	}
}

// relayTCP connects c to the current target and copies both ways, with
// half-closes passed on, until both sides are done.
func (f *Forwarder) relayTCP(ctx context.Context, c net.Conn, l Listener) {
	r := &tcpRelay{client: c}
	target := f.open(r)
	if target == "" {
		// Nothing serves yet (a first deploy before its switch): refuse
		// rather than hold the client in silence.
		_ = c.Close()
		return
	}
	defer func() { f.done(target, r) }()
	up, target, err := f.dialTarget(ctx, r, target, l.TargetPort)
	if err != nil {
		f.log.Warn("forward: dial failed", "listener", l.String(), "target", target, "client", c.RemoteAddr().String(), "err", err.Error())
		r.close()
		return
	}
	if !r.setUp(up) {
		_ = up.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { pipe(up, c) })
	pipe(c, up)
	wg.Wait()
	r.close()
}

// dialTarget dials target, retrying briefly on refusal; a retry after a
// switch goes to the new target, so a connection made during a switch
// lands on a release that runs.
func (f *Forwarder) dialTarget(ctx context.Context, r relay, target string, port int) (net.Conn, string, error) {
	deadline := time.Now().Add(dialRetry)
	for attempt := 0; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		up, err := f.opts.Dial(dctx, "tcp", net.JoinHostPort(target, strconv.Itoa(port)))
		cancel()
		if err == nil {
			return up, target, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, target, err
		}
		time.Sleep(min(time.Duration(attempt+1)*50*time.Millisecond, 250*time.Millisecond))
		target = f.move(r, target)
	}
}

// pipe copies src to dst, then passes the end of src on as a half-close so
// protocols that signal "done sending" by shutting down their write side
// keep working.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// CheckPorts dials every TCP listener's port on target until all accept or
// deadline passes: a release is not ready for the switch while a port the
// forwarder relays to would refuse.
func (f *Forwarder) CheckPorts(ctx context.Context, target string, deadline time.Duration) PortCheckResult {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	res := PortCheckResult{Ready: true}
	seen := map[int]bool{}
	for _, l := range f.opts.Listeners {
		if l.Proto != "tcp" || seen[l.TargetPort] {
			continue
		}
		seen[l.TargetPort] = true
		for {
			res.Attempts++
			dctx, dcancel := context.WithTimeout(ctx, time.Second)
			c, err := f.opts.Dial(dctx, "tcp", net.JoinHostPort(target, strconv.Itoa(l.TargetPort)))
			dcancel()
			if err == nil {
				_ = c.Close()
				break
			}
			res.Error = "port " + strconv.Itoa(l.TargetPort) + ": " + err.Error()
			select {
			case <-ctx.Done():
				res.Ready = false
				return res
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	res.Error = ""
	return res
}

// PortCheckResult is the answer of POST /check on a forwarder.
type PortCheckResult struct {
	Ready    bool   `json:"ready"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
}
