package proxy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSwitchUnderLoad is the zero-downtime promise: while clients hammer the
// proxy and the route flips between two targets, every request succeeds and
// is answered by one of the two.
func TestSwitchUnderLoad(t *testing.T) {
	p := startProxy(t, Options{})
	blue := newBackend(t, "blue", nil)
	green := newBackend(t, "green", nil)
	p.route(t, "shop/web", "shop.test", blue)

	const workers = 16
	var (
		stop            atomic.Bool
		total, failed   atomic.Int64
		sawBlue, sawGrn atomic.Int64
		mu              sync.Mutex
		failures        []string
		wg              sync.WaitGroup
	)
	c := newTestClient()
	for range workers {
		wg.Go(func() {
			for !stop.Load() {
				res := do(c, "GET", p.url+"/", "shop.test", nil)
				total.Add(1)
				switch {
				case res.err == nil && res.status == 200 && res.body == "blue":
					sawBlue.Add(1)
				case res.err == nil && res.status == 200 && res.body == "green":
					sawGrn.Add(1)
				default:
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q %v", res.status, res.body, res.err))
					mu.Unlock()
				}
			}
		})
	}
	// Switch the way the deployer does: flip, then drain the previous target
	// (which must finish cleanly, nothing cancelled), then flip back later.
	targets := []string{green, blue}
	for i := range 24 {
		time.Sleep(5 * time.Millisecond)
		p.route(t, "shop/web", "shop.test", targets[i%2])
		res, err := p.srv.Drain(context.Background(), targets[(i+1)%2], 2*time.Second)
		if err != nil || !res.Drained || res.Cancelled != 0 {
			t.Fatalf("drain after switch %d: %+v, %v", i, res, err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across switches, e.g. %v", failed.Load(), total.Load(), failures[:min(len(failures), 5)])
	}
	if sawBlue.Load() == 0 || sawGrn.Load() == 0 {
		t.Fatalf("traffic did not follow the switches: blue=%d green=%d", sawBlue.Load(), sawGrn.Load())
	}
	t.Logf("%d requests, blue=%d green=%d, 0 failed", total.Load(), sawBlue.Load(), sawGrn.Load())
}
