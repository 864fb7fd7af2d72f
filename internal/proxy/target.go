package proxy

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// target is the shared state of one upstream ("container:port"). Routes point
// at targets; the request path touches only the atomics and the proxy, never mu.
type target struct {
	name     string
	inflight atomic.Int64
	// refused is set when a drain gave up and cancelled the target's requests.
	// Dials then fail, which also stops http.Transport from silently retrying a
	// cancelled idempotent request on a fresh connection. A route pointing here
	// again clears it (rollback).
	refused atomic.Bool

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	epoch uint64 // bumped by cancel so dials that straddle it are discarded
}

// cancel fails every request in flight on t by closing its upstream
// connections, and returns how many requests were in flight.
//
// Closing connections rather than cancelling per-request contexts keeps the
// request path free of any registration (no lock, no allocation): the
// forwarder turns a closed connection into an error for exactly the requests
// using it, and hijacked websocket connections end the same way.
func (t *target) cancel() int64 {
	n := t.inflight.Load()
	t.refused.Store(true)
	t.mu.Lock()
	t.epoch++
	t.mu.Unlock()
	t.closeConns()
	return n
}

// closeConns closes all upstream connections to t, idle or not.
func (t *target) closeConns() {
	t.mu.Lock()
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (t *target) connCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// trackedConn lets a target find and close its upstream connections.
type trackedConn struct {
	net.Conn
	t      *target
	once   sync.Once
	closed atomic.Bool // set by Close, so a pinned connection a drain closed is not reused
}

func (c *trackedConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		c.closed.Store(true)
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

// targets is the registry of target state, shared by the route table, the
// forwarder.s dialer, and drain.
type targets struct {
	mu     sync.Mutex
	m      map[string]*target
	dialer net.Dialer
}

func newTargets() *targets {
	return &targets{
		m:      map[string]*target{},
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
	}
}

// get returns the state for name, creating it on first use.
func (ts *targets) get(name string) *target {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.m[name]
	if !ok {
		t = &target{name: name, conns: map[*trackedConn]struct{}{}}
		ts.m[name] = t
	}
	return t
}

func (ts *targets) lookup(name string) *target {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.m[name]
}

// forget drops t from the registry so finished targets do not pile up over
// many deploys. The caller guarantees no route points at t.
func (ts *targets) forget(t *target) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m[t.name] == t {
		delete(ts.m, t.name)
	}
}

func (ts *targets) all() []*target {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]*target, 0, len(ts.m))
	for _, t := range ts.m {
		out = append(out, t)
	}
	return out
}

// dialTarget dials t itself, not a target looked up by name: a target a
// drain has forgotten must not come back as a fresh, unrefused one.
func (ts *targets) dialTarget(ctx context.Context, network string, t *target) (net.Conn, error) {
	addr := t.name
	if t.refused.Load() {
		return nil, fmt.Errorf("target %s was drained and its requests cancelled", addr)
	}
	t.mu.Lock()
	epoch := t.epoch
	t.mu.Unlock()

	c, err := ts.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: t}
	t.mu.Lock()
	if t.epoch != epoch {
		t.mu.Unlock()
		c.Close()
		return nil, fmt.Errorf("target %s was drained and its requests cancelled", addr)
	}
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}
