package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DrainResult reports how a drain ended. Cancelled counts the requests that
// were still in flight at the timeout and were cut off.
type DrainResult struct {
	Drained   bool  `json:"drained"`
	Cancelled int64 `json:"cancelled"`
	WaitedMS  int64 `json:"waited_ms"`
}

// drainPoll is how often a drain looks at the in-flight count. Polling keeps
// the request path to a bare atomic decrement; a drain is not latency-critical.
const drainPoll = 10 * time.Millisecond

// unwindGrace bounds how long a drain waits, after cancelling, for the cut-off
// requests to return before it forgets the target.
const unwindGrace = 2 * time.Second

// RoutedError is returned when asked to drain a target that a route still
// sends traffic to: draining it would cut off live requests forever.
type RoutedError struct {
	Target, Key string
}

func (e *RoutedError) Error() string {
	return fmt.Sprintf("target %s is still routed by %s; switch the route away before draining it", e.Target, e.Key)
}

// Drain waits until no request is in flight on target or timeout passes, then
// cancels what remains and closes the target's upstream connections.
// Requests that finish within timeout are untouched. If ctx ends first, Drain
// returns ctx's error and cancels nothing.
func (s *Server) Drain(ctx context.Context, name string, timeout time.Duration) (DrainResult, error) {
	if key := s.table.Load().routedBy(name); key != "" {
		return DrainResult{}, &RoutedError{Target: name, Key: key}
	}
	start := time.Now()
	t := s.targets.lookup(name)
	if t == nil {
		return DrainResult{Drained: true}, nil
	}
	// Said before waiting, so an operator (and the e2e drain test) sees
	// that a drain is under way and what it waits for.
	s.log.Info("draining target", "target", name, "inflight", t.inflight.Load(), "timeout", timeout.String())

	drained := t.inflight.Load() == 0
	if !drained {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		tick := time.NewTicker(drainPoll)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-tick.C:
				if t.inflight.Load() == 0 {
					drained = true
					break wait
				}
			case <-timer.C:
				break wait
			case <-ctx.Done():
				return DrainResult{WaitedMS: time.Since(start).Milliseconds()}, ctx.Err()
			}
		}
	}
	res := DrainResult{Drained: drained, WaitedMS: time.Since(start).Milliseconds()}
	// Under the route writers' lock: a rollback that routes the target again
	// either happened before (and the drain stops here) or waits until the
	// cancel is done (and clears refused after it), never in between.
	s.mu.Lock()
	if key := s.table.Load().routedBy(name); key != "" {
		s.mu.Unlock()
		return res, &RoutedError{Target: name, Key: key}
	}
	if drained {
		t.closeConns()
		s.mu.Unlock()
	} else {
		res.Cancelled = t.cancel()
		s.mu.Unlock()
		s.waitUnwound(ctx, t)
	}
	s.log.Info("target drained", "target", name, "drained", res.Drained, "cancelled", res.Cancelled, "waited_ms", res.WaitedMS)
	s.forgetIfUnused(t)
	return res, nil
}

// DrainAll drains several targets at once, each as Drain does, within one
// timeout: the old replicas of a route finish their requests side by side,
// not one after another. It reports drained only when every target drained,
// the cancelled requests of all, and the longest wait. A target still routed
// is an error, and then nothing is drained.
func (s *Server) DrainAll(ctx context.Context, names []string, timeout time.Duration) (DrainResult, error) {
	if len(names) == 1 {
		return s.Drain(ctx, names[0], timeout)
	}
	tbl := s.table.Load()
	for _, name := range names {
		if key := tbl.routedBy(name); key != "" {
			return DrainResult{}, &RoutedError{Target: name, Key: key}
		}
	}
	results := make([]DrainResult, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { results[i], errs[i] = s.Drain(ctx, name, timeout) })
	}
	wg.Wait()
	out := DrainResult{Drained: true}
	for _, r := range results {
		out.Drained = out.Drained && r.Drained
		out.Cancelled += r.Cancelled
		out.WaitedMS = max(out.WaitedMS, r.WaitedMS)
	}
	return out, errors.Join(errs...)
}

// waitUnwound gives cancelled requests a moment to return. Until they have,
// the target must stay registered as refused, or the forwarder.s automatic
// retry of an idempotent request could dial the old container again.
func (s *Server) waitUnwound(ctx context.Context, t *target) {
	deadline := time.Now().Add(unwindGrace)
	for t.inflight.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(drainPoll)
	}
}

// forgetIfUnused drops a drained target's state when no route uses it and
// nothing is in flight, so deploys do not accumulate dead targets.
func (s *Server) forgetIfUnused(t *target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.table.Load().routedBy(t.name) == "" && t.inflight.Load() == 0 && t.connCount() == 0 {
		s.targets.forget(t)
	}
}
