package proxy

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Route sends requests for Hosts to its targets. Key ("app/service")
// identifies the route across switches: setting a route with an existing key
// replaces it, all its targets at once.
//
// A route has one target (Target) or several (Targets: the replicas of a
// release). Target is the older, single-target form, kept so that state
// files and admin clients from before replicas keep working: a normalized
// route always has Targets, and Target set to Targets[0].
type Route struct {
	Key     string       `json:"key"`
	Hosts   []string     `json:"hosts"`
	Target  string       `json:"target"` // "container:port"; empty (and no Targets) answers 503
	Targets []string     `json:"targets,omitempty"`
	Health  *RouteHealth `json:"health,omitempty"`
	// Inflight is reported by GET /routes for the route's targets together;
	// it is ignored on PUT and never persisted.
	Inflight int64 `json:"inflight"`
}

// TargetList returns the route's targets whichever form it was given in.
func (r Route) TargetList() []string {
	if len(r.Targets) > 0 {
		return r.Targets
	}
	if r.Target != "" {
		return []string{r.Target}
	}
	return nil
}

// RouteHealth records how the deployer health-checks the route's targets. The
// proxy only stores and reports it; checks run on request (POST /check).
type RouteHealth struct {
	Path       string `json:"path,omitempty"`
	IntervalMS int64  `json:"interval_ms,omitempty"`
	TimeoutMS  int64  `json:"timeout_ms,omitempty"`
}

// normalize validates r and returns a copy with hosts lower-cased, so that what
// is stored, persisted and matched is one canonical form.
func (r Route) normalize() (Route, error) {
	if err := validKey(r.Key); err != nil {
		return Route{}, err
	}
	if len(r.Hosts) == 0 {
		return Route{}, fmt.Errorf("route %s: hosts: at least one host is required", r.Key)
	}
	hosts := make([]string, 0, len(r.Hosts))
	for _, h := range r.Hosts {
		n, err := normalizeRouteHost(h)
		if err != nil {
			return Route{}, fmt.Errorf("route %s: hosts: %w", r.Key, err)
		}
		if slices.Contains(hosts, n) {
			return Route{}, fmt.Errorf("route %s: hosts: %q is listed twice", r.Key, n)
		}
		hosts = append(hosts, n)
	}
	if r.Target != "" && len(r.Targets) > 0 && r.Target != r.Targets[0] {
		return Route{}, fmt.Errorf("route %s: target %q and targets %v disagree; give targets only", r.Key, r.Target, r.Targets)
	}
	targets := make([]string, 0, len(r.TargetList()))
	for _, t := range r.TargetList() {
		if err := validTarget(t); err != nil {
			return Route{}, fmt.Errorf("route %s: target: %w", r.Key, err)
		}
		if slices.Contains(targets, t) {
			return Route{}, fmt.Errorf("route %s: target %q is listed twice", r.Key, t)
		}
		targets = append(targets, t)
	}
	out := Route{Key: r.Key, Hosts: hosts}
	if len(targets) > 0 {
		out.Target, out.Targets = targets[0], targets
	}
	if r.Health != nil {
		h := *r.Health
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			return Route{}, fmt.Errorf("route %s: health.path %q must start with /", r.Key, h.Path)
		}
		if h.IntervalMS < 0 || h.TimeoutMS < 0 {
			return Route{}, fmt.Errorf("route %s: health durations must not be negative", r.Key)
		}
		out.Health = &h
	}
	return out, nil
}

func validKey(key string) error {
	app, svc, ok := strings.Cut(key, "/")
	if !ok || app == "" || svc == "" || strings.Contains(svc, "/") {
		return fmt.Errorf("route key %q must be app/service", key)
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return fmt.Errorf("route key %q: only letters, digits, '-', '_' and '.' are allowed around the '/'", key)
		}
	}
	return nil
}

// normalizeRouteHost is strict where requestHost is lenient: a route host is
// typed by a person, so a port or scheme in it is a mistake worth reporting.
func normalizeRouteHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty host")
	}
	if strings.Contains(h, "://") {
		return "", fmt.Errorf("host %q: give the bare host name, without a scheme", h)
	}
	if strings.Contains(h, ":") {
		return "", fmt.Errorf("host %q: must not include a port (the proxy matches the Host header without its port)", h)
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if len(h) > 253 {
		return "", fmt.Errorf("host %q: longer than 253 characters", h)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return "", fmt.Errorf("host %q: empty label", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("host %q: invalid character %q", h, c)
			}
		}
	}
	return h, nil
}

// validTarget accepts "name:port": the container name is resolved by Docker's
// DNS on the berth network, so there is no scheme and the port is mandatory.
func validTarget(t string) error {
	if strings.Contains(t, "://") || strings.Contains(t, "/") {
		return fmt.Errorf("%q: give host:port, without a scheme or path", t)
	}
	host, port, err := net.SplitHostPort(t)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %v", t, err)
	}
	if host == "" {
		return fmt.Errorf("%q: missing host", t)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port must be 1-65535", t)
	}
	return nil
}

// requestHost reduces a Host header to the form route hosts are stored in. It
// avoids allocating for the common already-canonical header.
func requestHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i:], ']') < 0 {
		h = h[:i]
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	return strings.ToLower(h) // returns h itself when there is nothing to lower
}

// routeEntry is one route as served. targets is empty when the route has no
// target, so the hot path answers 503 without a lookup.
type routeEntry struct {
	route   Route
	targets []*target
	next    atomic.Uint32 // round-robin start for pick's ties
}

// pick chooses the target of a request. A client connection keeps its
// pinned upstream connection while that target stays in the route: the h1
// engine owns one upstream connection per client connection, and moving
// every request would cost a dial each. Otherwise the target with the fewest
// requests in flight wins, ties going round robin: a replica that is slow
// (warming up, collecting garbage, stuck on a heavy request) gets new
// connections last, and idle replicas share them evenly.
func (e *routeEntry) pick(pinned *target) *target {
	ts := e.targets
	if len(ts) == 1 {
		return ts[0]
	}
	if pinned != nil {
		for _, t := range ts {
			if t == pinned {
				return t
			}
		}
	}
	start := int(e.next.Add(1) % uint32(len(ts)))
	best := ts[start]
	least := best.inflight.Load()
	for i := 1; i < len(ts) && least > 0; i++ {
		t := ts[(start+i)%len(ts)]
		if n := t.inflight.Load(); n < least {
			best, least = t, n
		}
	}
	return best
}

// inflight sums the requests in flight on the entry's targets.
func (e *routeEntry) inflight() int64 {
	var n int64
	for _, t := range e.targets {
		n += t.inflight.Load()
	}
	return n
}

// table is immutable once published; writers build a new one and swap the
// pointer, so a request sees one consistent table for its whole lifetime.
type table struct {
	byHost map[string]*routeEntry
	byKey  map[string]*routeEntry
}

func emptyTable() *table {
	return &table{byHost: map[string]*routeEntry{}, byKey: map[string]*routeEntry{}}
}

// with returns a copy of t where r replaces (or adds) the route r.Key.
// r must be normalized. resolve maps a target name to its shared state.
func (t *table) with(r Route, resolve func(string) *target) (*table, error) {
	for _, h := range r.Hosts {
		if other, ok := t.byHost[h]; ok && other.route.Key != r.Key {
			return nil, fmt.Errorf("host %q is already routed by %s; remove it there before adding it to %s", h, other.route.Key, r.Key)
		}
	}
	n := &table{
		byHost: make(map[string]*routeEntry, len(t.byHost)+len(r.Hosts)),
		byKey:  make(map[string]*routeEntry, len(t.byKey)+1),
	}
	for k, e := range t.byKey {
		if k != r.Key {
			n.add(e)
		}
	}
	e := &routeEntry{route: r}
	for _, name := range r.Targets {
		e.targets = append(e.targets, resolve(name))
	}
	n.add(e)
	return n, nil
}

// without returns a copy of t lacking the route key, and whether it was there.
func (t *table) without(key string) (*table, bool) {
	if _, ok := t.byKey[key]; !ok {
		return t, false
	}
	n := &table{
		byHost: make(map[string]*routeEntry, len(t.byHost)),
		byKey:  make(map[string]*routeEntry, len(t.byKey)),
	}
	for k, e := range t.byKey {
		if k != key {
			n.add(e)
		}
	}
	return n, true
}

func (t *table) add(e *routeEntry) {
	t.byKey[e.route.Key] = e
	for _, h := range e.route.Hosts {
		t.byHost[h] = e
	}
}

// routes returns the routes sorted by key, with their target's in-flight count.
func (t *table) routes() []Route {
	out := make([]Route, 0, len(t.byKey))
	for _, e := range t.byKey {
		r := e.route
		r.Hosts = slices.Clone(r.Hosts)
		r.Targets = slices.Clone(r.Targets)
		r.Inflight = e.inflight()
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// routedBy returns the key of a route one of whose targets is name, or "".
func (t *table) routedBy(name string) string {
	for k, e := range t.byKey {
		if slices.Contains(e.route.Targets, name) {
			return k
		}
	}
	return ""
}
