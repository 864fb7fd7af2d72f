package proxy

import (
	"context"
	"slices"
	"time"
)

// Open counts the relays open per target.
func (f *Forwarder) Open() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for t, m := range f.live {
		out[t] = len(m)
	}
	return out
}

// udpQuiet is how long a UDP session must be silent before a drain counts
// it as finished: a reply to the last datagram has had time to come back.
const udpQuiet = time.Second

// Drain waits up to timeout for every relay on targets to finish (TCP
// connections closed, UDP sessions quiet), then cuts what remains. No
// target may be a current one.
func (f *Forwarder) Drain(ctx context.Context, targets []string, timeout time.Duration) (DrainResult, error) {
	start := time.Now()
	cur := f.Targets()
	for _, t := range targets {
		if slices.Contains(cur, t) {
			return DrainResult{}, &RoutedError{Target: t, Key: "this forwarder"}
		}
	}
	all := func() []relay {
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []relay
		for _, t := range targets {
			for r := range f.live[t] {
				out = append(out, r)
			}
		}
		return out
	}
	busy := func() []relay {
		var out []relay
		for _, r := range all() {
			if !r.quiet(udpQuiet) {
				out = append(out, r)
			}
		}
		return out
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	drained := len(busy()) == 0
	for !drained {
		select {
		case <-tick.C:
			drained = len(busy()) == 0
			continue
		case <-deadline.C:
		case <-ctx.Done():
			return DrainResult{WaitedMS: time.Since(start).Milliseconds()}, ctx.Err()
		}
		break
	}
	res := DrainResult{Drained: drained, WaitedMS: time.Since(start).Milliseconds()}
	res.Cancelled = int64(len(busy()))
	// Quiet UDP sessions and whatever is left go now: the old target is
	// about to stop, and a client's next datagram opens a session on the
	// new one.
	for _, r := range all() {
		r.close()
	}
	f.log.Info("forward targets drained", "targets", targets, "drained", res.Drained, "cancelled", res.Cancelled, "waited_ms", res.WaitedMS)
	return res, nil
}
