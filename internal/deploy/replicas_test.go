package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
	"github.com/berthhq/berth/internal/release"
)

// fakeHost is one Docker host in memory, with a real berth-proxy route
// table behind its `docker exec` admin calls. Health checks, which would
// dial the containers, pass for every target but unhealthy.
type fakeHost struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer // by ID
	seq        int
	proxy      *proxy.Server
	unhealthy  string // a target whose health check fails
}

type fakeContainer struct {
	id, name string
	labels   map[string]string
	state    string
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	srv, err := proxy.NewServer(proxy.Options{StateFile: filepath.Join(t.TempDir(), "state.json"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeHost{containers: map[string]*fakeContainer{}, proxy: srv}
}

var errNotFound = cerrdefs.ErrNotFound.WithMessage("no such container")

func (f *fakeHost) Host() string { return "h1" }

func (f *fakeHost) setUnhealthy(target string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unhealthy = target
}

func (f *fakeHost) find(idOrName string) *fakeContainer {
	for _, c := range f.containers {
		if c.id == idOrName || c.name == idOrName {
			return c
		}
	}
	return nil
}

func (f *fakeHost) CreateContainer(_ context.Context, spec engine.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(spec.Name) != nil {
		return "", cerrdefs.ErrConflict.WithMessage("name in use")
	}
	f.seq++
	id := fmt.Sprintf("id%03d", f.seq)
	f.containers[id] = &fakeContainer{id: id, name: spec.Name, labels: spec.Labels, state: "created"}
	return id, nil
}

func (f *fakeHost) setState(id, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return errNotFound
	}
	c.state = state
	return nil
}

func (f *fakeHost) StartContainer(_ context.Context, id string) error {
	return f.setState(id, "running")
}
func (f *fakeHost) StopContainer(_ context.Context, id string, _ time.Duration) error {
	return f.setState(id, "exited")
}

func (f *fakeHost) RemoveContainer(_ context.Context, id string, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(id)
	if c == nil {
		return errNotFound
	}
	delete(f.containers, c.id)
	return nil
}

func (f *fakeHost) DiscardContainer(ctx context.Context, id string) error {
	return f.RemoveContainer(ctx, id, true)
}

func (f *fakeHost) RenameContainer(context.Context, string, string) error { return nil }

func (f *fakeHost) InspectContainer(_ context.Context, idOrName string) (engine.ContainerInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(idOrName)
	if c == nil {
		return engine.ContainerInfo{}, errNotFound
	}
	return engine.ContainerInfo{ID: c.id, Name: c.name, Labels: c.labels, Status: c.state, Running: c.state == "running"}, nil
}

func (f *fakeHost) ListContainers(_ context.Context, labels map[string]string) ([]engine.ContainerSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []engine.ContainerSummary
	for _, c := range f.containers {
		match := true
		for k, v := range labels {
			match = match && c.labels[k] == v
		}
		if match {
			out = append(out, engine.ContainerSummary{ID: c.id, Name: c.name, Labels: c.labels, State: c.state})
		}
	}
	return out, nil
}

func (f *fakeHost) ContainerLogs(context.Context, string, int) (string, error) {
	return "log line", nil
}

// Exec runs `berth proxy admin METHOD PATH [BODY]` against the proxy.
func (f *fakeHost) Exec(_ context.Context, id string, cmd []string) (engine.ExecResult, error) {
	if id != ProxyName || len(cmd) < 5 {
		return engine.ExecResult{}, fmt.Errorf("unexpected exec %s %v", id, cmd)
	}
	method, path, body := cmd[3], cmd[4], ""
	if len(cmd) > 5 {
		body = cmd[5]
	}
	if path == "/check" {
		var req proxy.CheckRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			return engine.ExecResult{}, err
		}
		f.mu.Lock()
		res := proxy.CheckResult{Healthy: req.Target != f.unhealthy, Attempts: 1, Status: 200}
		f.mu.Unlock()
		if !res.Healthy {
			res.Status = 500
		}
		out, _ := json.Marshal(res)
		return engine.ExecResult{Stdout: out}, nil
	}
	rec := httptest.NewRecorder()
	f.proxy.AdminHandler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	res := engine.ExecResult{Stdout: rec.Body.Bytes()}
	if rec.Code >= 400 {
		res.ExitCode = 1
	}
	return res, nil
}

func (f *fakeHost) EnsureNetwork(context.Context, string, map[string]string) error { return nil }
func (f *fakeHost) RemoveNetwork(context.Context, string) error                    { return nil }
func (f *fakeHost) EnsureVolume(context.Context, string, map[string]string) error  { return nil }
func (f *fakeHost) ListVolumes(context.Context, map[string]string) ([]engine.Volume, error) {
	return nil, nil
}
func (f *fakeHost) RemoveVolume(context.Context, string) error { return nil }
func (f *fakeHost) InspectImage(_ context.Context, ref string) (engine.ImageInfo, error) {
	return engine.ImageInfo{ID: "sha256:" + strings.Repeat(ref[len(ref)-1:], 64)}, nil
}
func (f *fakeHost) ImportImage(context.Context, string, []engine.ImageFile, []string) error {
	return nil
}
func (f *fakeHost) PullImage(context.Context, string) error { return errors.New("no registry") }

// running lists the names of the running containers of a service.
func (f *fakeHost) running(service string) []string {
	cs, _ := f.ListContainers(context.Background(), map[string]string{release.LabelService: service})
	var out []string
	for _, c := range cs {
		if c.State == "running" {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (f *fakeHost) all(service string) []string {
	cs, _ := f.ListContainers(context.Background(), map[string]string{release.LabelService: service})
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

func (f *fakeHost) routeTargets(t *testing.T) []string {
	t.Helper()
	for _, r := range f.proxy.Routes() {
		if r.Key == "shop/web" {
			return r.Targets
		}
	}
	return nil
}

func replicaDeployer(f *fakeHost, replicas, keep int) (*Deployer, *config.Service) {
	svc := &config.Service{
		Name: "web", Hosts: []string{"h1"},
		Route:   &config.Route{Host: "shop.test", Port: 8080, Health: "/up", HealthInterval: time.Second, HealthRequestTimeout: time.Second},
		Deploy:  config.Deploy{HealthTimeout: time.Second, Drain: time.Second, MinReady: time.Second, Parallel: 1, Keep: keep},
		Compose: types.ServiceConfig{Name: "web"},
	}
	if replicas != 1 {
		svc.Compose.Deploy = &types.DeployConfig{Replicas: &replicas}
	}
	cfg := &config.Config{App: "shop", Hosts: []config.Host{{Name: "h1"}}, Services: []*config.Service{svc}, Project: &types.Project{}}
	return &Deployer{Cfg: cfg, Hosts: map[string]Engine{"h1": f}}, svc
}

func TestReplicaReleaseLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFakeHost(t)
	d, svc := replicaDeployer(f, 3, 3)

	res, err := d.rollOut(ctx, f, svc, "shop/web:1", "")
	if err != nil {
		t.Fatal(err)
	}
	v1 := []string{"shop-web-1", "shop-web-1-r2", "shop-web-1-r3"}
	if res.Replicas != 3 || res.Container != "shop-web-1" || !slices.Equal(f.running("web"), v1) {
		t.Fatalf("first deploy: %+v, running %v; want %v", res, f.running("web"), v1)
	}
	if got := f.routeTargets(t); !slices.Equal(got, []string{"shop-web-1:8080", "shop-web-1-r2:8080", "shop-web-1-r3:8080"}) {
		t.Fatalf("route targets %v", got)
	}

	// Nothing changed: nothing happens.
	if res, err := d.rollOut(ctx, f, svc, "shop/web:1", ""); err != nil || res.Action != "unchanged" {
		t.Fatalf("redeploy of the same config: %+v, %v", res, err)
	}

	// A new image: three new replicas take over together, the old three stop.
	if _, err := d.rollOut(ctx, f, svc, "shop/web:2", ""); err != nil {
		t.Fatal(err)
	}
	v2 := []string{"shop-web-2", "shop-web-2-r2", "shop-web-2-r3"}
	if !slices.Equal(f.running("web"), v2) || len(f.all("web")) != 6 {
		t.Fatalf("after v2: running %v, all %v", f.running("web"), f.all("web"))
	}

	// One unhealthy replica: all three new ones go, v2 keeps serving.
	f.setUnhealthy("shop-web-3-r2:8080")
	_, err = d.rollOut(ctx, f, svc, "shop/web:3", "")
	var he *HealthError
	if !errors.As(err, &he) || he.Container != "shop-web-3-r2" || he.Release != 3 {
		t.Fatalf("deploy with an unhealthy replica: %v, want a HealthError naming shop-web-3-r2", err)
	}
	if slices.ContainsFunc(f.all("web"), func(n string) bool { return strings.HasPrefix(n, "shop-web-3") }) {
		t.Fatalf("replicas of the failed release remain: %v", f.all("web"))
	}
	if !slices.Equal(f.running("web"), v2) || !slices.Equal(f.routeTargets(t), []string{"shop-web-2:8080", "shop-web-2-r2:8080", "shop-web-2-r3:8080"}) {
		t.Fatalf("v2 should keep serving: running %v, route %v", f.running("web"), f.routeTargets(t))
	}
	f.setUnhealthy("")

	// Rollback brings all three of release 1 back.
	res, err = d.rollbackOne(ctx, f, svc, 1)
	if err != nil || res.Replicas != 3 {
		t.Fatalf("rollback: %+v, %v", res, err)
	}
	if !slices.Equal(f.running("web"), v1) || !slices.Equal(f.routeTargets(t), []string{"shop-web-1:8080", "shop-web-1-r2:8080", "shop-web-1-r3:8080"}) {
		t.Fatalf("after rollback: running %v, route %v", f.running("web"), f.routeTargets(t))
	}

	// A rollback whose target has an unhealthy replica stops all of it
	// again; release 1 keeps serving.
	f.setUnhealthy("shop-web-2-r2:8080")
	if _, err := d.rollbackOne(ctx, f, svc, 2); !errors.As(err, &he) || he.Container != "shop-web-2-r2" {
		t.Fatalf("rollback to a release with an unhealthy replica: %v", err)
	}
	if !slices.Equal(f.running("web"), v1) || len(f.all("web")) != 6 {
		t.Fatalf("after a failed rollback: running %v, all %v; want release 1 serving, release 2 stopped and kept", f.running("web"), f.all("web"))
	}
	f.setUnhealthy("")

	// A kept release that lost a replica is not brought back short.
	f.RemoveContainer(ctx, "shop-web-2-r3", true)
	if _, err := d.rollbackOne(ctx, f, svc, 2); err == nil || !strings.Contains(err.Error(), "replica 3 no longer exists") {
		t.Fatalf("rollback to an incomplete release: %v", err)
	}
	if !slices.Equal(f.running("web"), v1) {
		t.Fatalf("a refused rollback changed what runs: %v", f.running("web"))
	}

	// A serving release that lost a replica is replaced by a whole one.
	f.StopContainer(ctx, "shop-web-1-r2", 0)
	if res, err := d.rollOut(ctx, f, svc, "shop/web:1", ""); err != nil || res.Action != "deployed" || res.Release != 3 {
		t.Fatalf("deploy over a release with a stopped replica: %+v, %v; want a new release (3: the failed one left no trace)", res, err)
	}
	if got := f.running("web"); !slices.Equal(got, []string{"shop-web-3", "shop-web-3-r2", "shop-web-3-r3"}) {
		t.Fatalf("running after the repair: %v", got)
	}
}

// TestReplicaKeepCountsReleases: keep: 1 keeps one stopped release of
// three replicas, not one container.
func TestReplicaKeepCountsReleases(t *testing.T) {
	ctx := context.Background()
	f := newFakeHost(t)
	d, svc := replicaDeployer(f, 3, 1)
	for _, img := range []string{"shop/web:1", "shop/web:2", "shop/web:3"} {
		if _, err := d.rollOut(ctx, f, svc, img, ""); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"shop-web-2", "shop-web-2-r2", "shop-web-2-r3", "shop-web-3", "shop-web-3-r2", "shop-web-3-r3"}
	if got := f.all("web"); !slices.Equal(got, want) {
		t.Fatalf("containers after 3 deploys with keep 1: %v, want %v", got, want)
	}
}

// TestReplicasUpgradeKeepsSingleContainer: a release made before replicas
// (no replica labels, a single-target route) is recognised as unchanged, and
// scaling it to two makes a new release of two.
func TestReplicasUpgradeKeepsSingleContainer(t *testing.T) {
	ctx := context.Background()
	f := newFakeHost(t)
	d, svc := replicaDeployer(f, 1, 3)
	spec, err := containerSpec(d.Cfg, svc, "shop/web:1", "sha256:"+strings.Repeat("1", 64), 1, "1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "shop-web-1" {
		t.Fatalf("single-replica name %s changed", spec.Name)
	}
	id, _ := f.CreateContainer(ctx, spec) // as berth made it before replicas: no replica labels
	f.StartContainer(ctx, id)
	if _, err := f.proxy.SetRoute(proxy.Route{Key: "shop/web", Hosts: []string{"shop.test"}, Target: "shop-web-1:8080"}); err != nil {
		t.Fatal(err)
	}
	if res, err := d.rollOut(ctx, f, svc, "shop/web:1", ""); err != nil || res.Action != "unchanged" || res.Release != 1 {
		t.Fatalf("upgraded berth on an old deployment: %+v, %v; want unchanged release 1", res, err)
	}

	two := 2
	svc.Compose.Deploy = &types.DeployConfig{Replicas: &two}
	res, err := d.rollOut(ctx, f, svc, "shop/web:1", "")
	if err != nil || res.Action != "deployed" || res.Replicas != 2 {
		t.Fatalf("scaling to 2: %+v, %v", res, err)
	}
	if got := f.running("web"); !slices.Equal(got, []string{"shop-web-2", "shop-web-2-r2"}) {
		t.Fatalf("running after scaling to 2: %v", got)
	}
}
