package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freshClient opens a new connection per request, as many independent
// clients would: the proxy chooses a target per client connection.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func (p *testProxy) routeAll(t *testing.T, key, host string, targets ...string) []string {
	t.Helper()
	prev, err := p.admin.SwitchRoute(context.Background(), Route{Key: key, Hosts: []string{host}, Targets: targets})
	if err != nil {
		t.Fatalf("SwitchRoute(%s -> %v): %v", key, targets, err)
	}
	return prev
}

func TestSeveralTargetsShareTraffic(t *testing.T) {
	var alog syncBuffer
	p := startProxy(t, Options{AccessLog: &alog})
	names := []string{"r1", "r2", "r3"}
	var targets []string
	for _, n := range names {
		targets = append(targets, newBackend(t, n, nil))
	}
	p.routeAll(t, "shop/web", "shop.test", targets...)

	seen := map[string]int{}
	for range 30 {
		r := do(freshClient(), "GET", p.url+"/", "shop.test", nil)
		if r.err != nil || r.status != 200 {
			t.Fatalf("request: %d %v", r.status, r.err)
		}
		seen[r.body]++
	}
	for _, n := range names {
		if seen[n] == 0 {
			t.Fatalf("replica %s got no request of 30 on fresh connections: %v", n, seen)
		}
	}
	// The access log names the replica that answered, not the route's first.
	waitFor(t, "30 access log lines", func() bool { return strings.Count(alog.String(), "\n") >= 30 })
	for i, target := range targets {
		if got := strings.Count(alog.String(), `"target":"`+target+`"`); got != seen[names[i]] {
			t.Errorf("access log names %s %d times; it answered %d requests", target, got, seen[names[i]])
		}
	}

	// One keep-alive connection stays with its replica: no dial per request.
	c := newTestClient()
	first := do(c, "GET", p.url+"/", "shop.test", nil).body
	for range 10 {
		if r := do(c, "GET", p.url+"/", "shop.test", nil); r.body != first {
			t.Fatalf("a keep-alive connection moved from %s to %s while both stayed routed", first, r.body)
		}
	}
	routes := p.srv.Routes()
	if len(routes) != 1 || !slices.Equal(routes[0].Targets, targets) || routes[0].Target != targets[0] {
		t.Fatalf("GET /routes: %+v, want targets %v with target %s", routes, targets, targets[0])
	}
}

// TestBusyReplicaGetsNoNewConnections: a replica holding a request is
// passed over while others have none in flight (least in flight).
func TestBusyReplicaGetsNoNewConnections(t *testing.T) {
	p := startProxy(t, Options{})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "slow")
	})
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	p.routeAll(t, "shop/web", "shop.test", slow, a, b)

	// Park one request on every replica in turn until the slow one holds it.
	held := make(chan result, 3)
	for p.srv.targets.lookup(slow).inflight.Load() == 0 {
		go func() { held <- do(freshClient(), "GET", p.url+"/hold", "shop.test", nil) }()
		waitFor(t, "the request to be answered or held", func() bool {
			return len(held) > 0 || p.srv.targets.lookup(slow).inflight.Load() == 1
		})
		if len(held) > 0 {
			<-held // answered by a or b at once
		}
	}
	for range 20 {
		if r := do(freshClient(), "GET", p.url+"/", "shop.test", nil); r.body == "slow" {
			t.Fatalf("a new connection went to the replica that holds a request while two were idle")
		}
	}
	once.Do(func() { close(release) })
	if r := <-held; r.status != 200 || r.body != "slow" {
		t.Fatalf("held request: %d %q %v", r.status, r.body, r.err)
	}
}

// TestSwitchSetUnderLoad: the route moves from three old replicas to three
// new ones in one step, under load: no request fails, and once the switch
// returns no new request reaches an old replica; draining the old set then
// finishes cleanly.
func TestSwitchSetUnderLoad(t *testing.T) {
	p := startProxy(t, Options{})
	var olds, news []string
	for i := range 3 {
		olds = append(olds, newBackend(t, fmt.Sprintf("old%d", i), nil))
		news = append(news, newBackend(t, fmt.Sprintf("new%d", i), nil))
	}
	p.routeAll(t, "shop/web", "shop.test", olds...)

	var (
		stop           atomic.Bool
		switched       atomic.Bool
		total, failed  atomic.Int64
		oldAfterSwitch atomic.Int64
		sawOld, sawNew atomic.Int64
		mu             sync.Mutex
		failures       []string
		wg             sync.WaitGroup
	)
	for range 12 {
		wg.Go(func() {
			c := freshClient()
			for !stop.Load() {
				after := switched.Load() // read before sending: the request started after the switch
				r := do(c, "GET", p.url+"/", "shop.test", nil)
				total.Add(1)
				switch {
				case r.err != nil || r.status != 200:
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q %v", r.status, r.body, r.err))
					mu.Unlock()
				case strings.HasPrefix(r.body, "old"):
					sawOld.Add(1)
					if after {
						oldAfterSwitch.Add(1)
					}
				default:
					sawNew.Add(1)
				}
			}
		})
	}
	waitFor(t, "traffic on the old replicas", func() bool { return sawOld.Load() > 30 })
	prev := p.routeAll(t, "shop/web", "shop.test", news...)
	switched.Store(true)
	if !slices.Equal(prev, olds) {
		t.Fatalf("switch returned previous %v, want %v", prev, olds)
	}
	res, err := p.admin.DrainTargets(context.Background(), prev, 5*time.Second)
	if err != nil || !res.Drained || res.Cancelled != 0 {
		t.Fatalf("drain of the old replicas: %+v, %v", res, err)
	}
	waitFor(t, "traffic on the new replicas", func() bool { return sawNew.Load() > 30 })
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across the switch, e.g. %v", failed.Load(), total.Load(), failures[:min(len(failures), 5)])
	}
	if oldAfterSwitch.Load() != 0 {
		t.Fatalf("%d requests sent after the switch reached an old replica", oldAfterSwitch.Load())
	}
	for _, o := range olds {
		if p.srv.targets.lookup(o) != nil {
			t.Fatalf("old replica %s is still registered after its drain", o)
		}
	}
}

// TestDrainWaitsForEveryOldTarget: the drain of a replaced set returns only
// when the last old replica has finished its request, and cuts none off.
func TestDrainWaitsForEveryOldTarget(t *testing.T) {
	p := startProxy(t, Options{})
	gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var olds []string
	for i, g := range gates {
		olds = append(olds, newBackend(t, fmt.Sprintf("old%d", i), func(w http.ResponseWriter, r *http.Request) {
			<-g
			fmt.Fprintf(w, "old%d", i)
		}))
	}
	next := newBackend(t, "new", nil)
	p.routeAll(t, "shop/web", "shop.test", olds...)

	// One request held on each old replica (least in flight puts the second
	// on the idle one).
	held := make(chan result, 2)
	for i := range 2 {
		go func() { held <- do(freshClient(), "GET", p.url+"/", "shop.test", nil) }()
		waitFor(t, "a request to be in flight", func() bool { return p.inflight("shop/web") == int64(i+1) })
	}
	for _, o := range olds {
		if n := p.srv.targets.lookup(o).inflight.Load(); n != 1 {
			t.Fatalf("%s holds %d requests, want 1 on each old replica", o, n)
		}
	}
	p.routeAll(t, "shop/web", "shop.test", next)

	drained := make(chan DrainResult, 1)
	go func() {
		res, err := p.admin.DrainTargets(context.Background(), olds, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		drained <- res
	}()
	close(gates[0])
	if r := <-held; r.status != 200 || r.body != "old0" {
		t.Fatalf("first held request: %d %q %v", r.status, r.body, r.err)
	}
	// old1 still holds its request, so the drain cannot have returned.
	select {
	case res := <-drained:
		t.Fatalf("drain returned %+v while %s still had a request in flight", res, olds[1])
	default:
	}
	close(gates[1])
	if r := <-held; r.status != 200 || r.body != "old1" {
		t.Fatalf("second held request: %d %q %v", r.status, r.body, r.err)
	}
	if res := <-drained; !res.Drained || res.Cancelled != 0 {
		t.Fatalf("drain = %+v, want drained with nothing cancelled", res)
	}
}

// TestDrainTimeoutCancelsEveryOldTarget: past the timeout, what is left on
// each old replica is cut off and counted.
func TestDrainTimeoutCancelsEveryOldTarget(t *testing.T) {
	p := startProxy(t, Options{})
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	var olds []string
	for i := range 2 {
		olds = append(olds, newBackend(t, fmt.Sprintf("old%d", i), func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}))
	}
	p.routeAll(t, "shop/web", "shop.test", olds...)
	held := make(chan result, 2)
	for i := range 2 {
		go func() { held <- do(freshClient(), "GET", p.url+"/", "shop.test", nil) }()
		waitFor(t, "a request to be in flight", func() bool { return p.inflight("shop/web") == int64(i+1) })
	}
	p.routeAll(t, "shop/web", "shop.test", newBackend(t, "new", nil))
	res, err := p.admin.DrainTargets(context.Background(), olds, 0)
	if err != nil || res.Drained || res.Cancelled != 2 {
		t.Fatalf("drain = %+v, %v; want 2 requests cancelled", res, err)
	}
	for range 2 {
		if r := <-held; r.status != 502 {
			t.Fatalf("a cut-off request got %d %q, want 502", r.status, r.body)
		}
	}
}

// TestStateFromBeforeReplicas: a state file written by a proxy that knew
// one target per route loads and serves, and a single-target route is
// persisted exactly as that proxy wrote it, so it could read the file back.
func TestStateFromBeforeReplicas(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	shop := newBackend(t, "shop", nil)
	old := fmt.Sprintf(`{
  "version": 1,
  "routes": [
    {
      "key": "shop/web",
      "hosts": [
        "shop.test"
      ],
      "target": %q,
      "health": {
        "path": "/up"
      }
    }
  ]
}
`, shop)
	if err := os.WriteFile(state, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, Options{StateFile: state})
	if r := do(newTestClient(), "GET", p.url+"/", "shop.test", nil); r.status != 200 || r.body != "shop" {
		t.Fatalf("route from the old state file: %d %q %v", r.status, r.body, r.err)
	}
	routes, err := p.admin.Routes(context.Background())
	if err != nil || len(routes) != 1 || routes[0].Target != shop || !slices.Equal(routes[0].Targets, []string{shop}) {
		t.Fatalf("routes: %+v, %v", routes, err)
	}
	// Re-setting the same single-target route writes the old format back.
	if _, err := p.admin.SetRoute(context.Background(), Route{Key: "shop/web", Hosts: []string{"shop.test"}, Target: shop, Health: &RouteHealth{Path: "/up"}}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(state); string(data) != old {
		t.Fatalf("single-target state changed format:\n%s\nwant:\n%s", data, old)
	}

	// Several targets survive a restart, and the file still names the first
	// as target for a proxy that reads only that.
	r2 := newBackend(t, "shop2", nil)
	p.routeAll(t, "shop/web", "shop.test", shop, r2)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Routes []struct {
			Target  string   `json:"target"`
			Targets []string `json:"targets"`
		} `json:"routes"`
	}
	data, _ := os.ReadFile(state)
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Routes) != 1 || doc.Routes[0].Target != shop || len(doc.Routes[0].Targets) != 2 {
		t.Fatalf("state with two targets: %s (%v)", data, err)
	}
	second := startProxy(t, Options{StateFile: state})
	if got := second.srv.Routes(); len(got) != 1 || !slices.Equal(got[0].Targets, []string{shop, r2}) {
		t.Fatalf("routes after restart: %+v", got)
	}
}

// fakeCaller answers admin calls as a proxy from before replicas did and
// records what it was sent.
type fakeCaller struct {
	sent   []string
	answer func(method, path string, body []byte) ([]byte, error)
}

func (f *fakeCaller) Call(_ context.Context, method, path string, body []byte) ([]byte, error) {
	f.sent = append(f.sent, method+" "+path+" "+string(body))
	return f.answer(method, path, body)
}

func TestClientWithProxyBeforeReplicas(t *testing.T) {
	ctx := context.Background()
	f := &fakeCaller{answer: func(method, path string, body []byte) ([]byte, error) {
		switch {
		case method == "GET":
			return []byte(`{"routes":[{"key":"shop/web","hosts":["shop.test"],"target":"shop-web-1:80","inflight":0}]}`), nil
		case strings.Contains(string(body), `"targets"`):
			return nil, &APIError{Status: 400, Message: `request body: json: unknown field "targets"`}
		default:
			return []byte(`{"previous":"shop-web-1:80"}`), nil
		}
	}}
	c := NewClient(f)
	routes, err := c.Routes(ctx)
	if err != nil || !slices.Equal(routes[0].Targets, []string{"shop-web-1:80"}) {
		t.Fatalf("routes from an old proxy: %+v, %v", routes, err)
	}
	prev, err := c.SwitchRoute(ctx, Route{Key: "shop/web", Hosts: []string{"shop.test"}, Targets: []string{"shop-web-2:80"}})
	if err != nil || !slices.Equal(prev, []string{"shop-web-1:80"}) {
		t.Fatalf("single-target switch on an old proxy: %v, %v", prev, err)
	}
	if last := f.sent[len(f.sent)-1]; strings.Contains(last, "targets") {
		t.Fatalf("a single-target switch sent the new field: %s", last)
	}
	_, err = c.SwitchRoute(ctx, Route{Key: "shop/web", Hosts: []string{"shop.test"}, Targets: []string{"a:80", "b:80"}})
	if err == nil || !strings.Contains(err.Error(), "predates replicas") || !strings.Contains(err.Error(), "docker rm -f berth-proxy") {
		t.Fatalf("several targets on an old proxy: %v, want the reason and the fix", err)
	}
}
