package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrainWaitsForInflight: a request the old release is still working on
// when the route switches completes normally, and drain returns once it has.
func TestDrainWaitsForInflight(t *testing.T) {
	p := startProxy(t, Options{})
	body := strings.Repeat("x", 256<<10)
	old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(w, body)
	})
	next := newBackend(t, "new", nil)
	p.route(t, "shop/web", "shop.test", old)

	got := make(chan result, 1)
	go func() { got <- do(newTestClient(), "GET", p.url+"/slow", "shop.test", nil) }()
	waitFor(t, "the slow request to be in flight", func() bool { return p.inflight("shop/web") == 1 })

	prev, err := p.admin.SetRoute(context.Background(), Route{Key: "shop/web", Hosts: []string{"shop.test"}, Target: next})
	if err != nil || prev != old {
		t.Fatalf("SetRoute = %q, %v; want previous %q", prev, err, old)
	}
	if res := do(newTestClient(), "GET", p.url+"/", "shop.test", nil); res.body != "new" {
		t.Fatalf("after the switch got %q, want new", res.body)
	}

	res, err := p.admin.Drain(context.Background(), old, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Drained || res.Cancelled != 0 || res.WaitedMS < 500 || res.WaitedMS > 4000 {
		t.Fatalf("drain = %+v, want drained after the held request (~1.5 s), nothing cancelled", res)
	}
	select {
	case r := <-got:
		if r.err != nil || r.status != 200 || r.body != body {
			t.Fatalf("held request: status %d, %d bytes, err %v; want 200 with the full body", r.status, len(r.body), r.err)
		}
	case <-time.After(time.Second):
		t.Fatal("drain returned before the held request completed")
	}
}

// TestDrainTimeoutCancels: past the drain timeout the remaining requests are
// cut off, and the transport must not quietly retry them on the old target.
func TestDrainTimeoutCancels(t *testing.T) {
	p := startProxy(t, Options{})
	var holds, cancelled atomic.Int32
	old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hold" {
			io.WriteString(w, "old")
			return
		}
		holds.Add(1)
		select {
		case <-r.Context().Done():
			cancelled.Add(1)
		case <-time.After(10 * time.Second):
			io.WriteString(w, "too late")
		}
	})
	next := newBackend(t, "new", nil)
	p.route(t, "shop/web", "shop.test", old)
	c := newTestClient()
	// Warm a pooled connection so the held request reuses it: that is the case
	// in which http.Transport would retry a GET after its connection dies.
	if res := do(c, "GET", p.url+"/", "shop.test", nil); res.body != "old" {
		t.Fatalf("warm-up: %+v", res)
	}

	got := make(chan result, 1)
	go func() { got <- do(c, "GET", p.url+"/hold", "shop.test", nil) }()
	waitFor(t, "the held request", func() bool { return holds.Load() == 1 })
	p.route(t, "shop/web", "shop.test", next)

	start := time.Now()
	res, err := p.srv.Drain(context.Background(), old, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Drained || res.Cancelled != 1 {
		t.Fatalf("drain = %+v, want drained=false cancelled=1", res)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("drain took %v with a 200ms timeout", d)
	}
	select {
	case r := <-got:
		if r.err == nil && r.status != http.StatusBadGateway {
			t.Fatalf("cancelled request got %d %q, want 502 or an error", r.status, r.body)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("cancelled request did not return")
	}
	waitFor(t, "the backend to see the cancellation", func() bool { return cancelled.Load() == 1 })
	if n := holds.Load(); n != 1 {
		t.Fatalf("old backend received the held request %d times, want 1 (no retry after cancel)", n)
	}

	// Rolling back to the drained target must work again.
	p.route(t, "shop/web", "shop.test", old)
	if r := do(c, "GET", p.url+"/", "shop.test", nil); r.status != 200 || r.body != "old" {
		t.Fatalf("after rollback: %d %q %v", r.status, r.body, r.err)
	}
}

func TestDrainRefusesRoutedTarget(t *testing.T) {
	p := startProxy(t, Options{})
	live := newBackend(t, "live", nil)
	p.route(t, "shop/web", "shop.test", live)
	_, err := p.admin.Drain(context.Background(), live, time.Second)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || !strings.Contains(apiErr.Message, "shop/web") {
		t.Fatalf("drain of a routed target: %v, want 409 naming shop/web", err)
	}
	// Unknown targets have nothing in flight.
	res, err := p.admin.Drain(context.Background(), "gone:80", time.Second)
	if err != nil || !res.Drained || res.Cancelled != 0 {
		t.Fatalf("drain of unknown target = %+v, %v", res, err)
	}
}
