package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/testenv"
)

// app is one deployed test app: its files, its proxy port, and berth.
type app struct {
	t     *testing.T
	name  string
	dir   string
	port  int
	host  string // the route's Host header
	berth string
	eng   *engine.Client
	// ownProxy makes deploys take over berth-proxy (--recreate-proxy) when
	// another app on this engine (a demo, an earlier test) set it up with
	// another port: the tests own the local engine while they run.
	ownProxy bool
}

// newApp writes berth.yaml and compose.yaml for a routed test service "web"
// (and whatever extra compose services are given) and removes everything at
// the end of the test.
func newApp(t *testing.T, extraBerth, extraCompose string) *app {
	t.Helper()
	eng := testenv.Engine(t)
	a := &app{t: t, name: fmt.Sprintf("e2e%d", time.Now().UnixNano()%1_000_000), dir: t.TempDir(), port: testenv.FreePort(t), host: "web.test", berth: testenv.Berth(t), eng: eng, ownProxy: true}
	berthYAML := fmt.Sprintf(`app: %s
proxy:
  http: 127.0.0.1:%d
services:
  web:
    route: { host: web.test, port: 8080, health: /up, health_interval: 200ms }
    deploy: { health_timeout: 8s, drain: 10s, keep: 3 }
%s`, a.name, a.port, extraBerth)
	composeYAML := `services:
  web:
    image: berth-testapp:v1
` + extraCompose
	write(t, filepath.Join(a.dir, "berth.yaml"), berthYAML)
	write(t, filepath.Join(a.dir, "compose.yaml"), composeYAML)
	t.Cleanup(func() {
		out, errOut, code := a.run("remove", "--yes", "--volumes")
		if code != 0 {
			t.Logf("cleanup: berth remove exit %d: %s %s", code, out, errOut)
		}
	})
	return a
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs berth in the app's directory and returns stdout, stderr and the
// exit code.
func (a *app) run(args ...string) (string, string, int) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if a.ownProxy && len(args) > 0 && (args[0] == "deploy" || args[0] == "rollback") {
		args = append(args, "--recreate-proxy")
	}
	cmd := exec.CommandContext(ctx, a.berth, args...)
	cmd.Dir = a.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatalf("running berth %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// mustRun runs berth and fails the test unless it exits 0.
func (a *app) mustRun(args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("berth %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (a *app) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", a.port, path)
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// get requests path through berth-proxy and returns the status and the
// version that answered.
func newReq(a *app, path string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, a.url(path), nil)
	if err == nil {
		req.Host = a.host
	}
	return req, err
}

func (a *app) get(path string) (int, string, error) {
	req, _ := newReq(a, path)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	var v struct{ Version string }
	_ = json.Unmarshal(body, &v)
	return resp.StatusCode, v.Version, nil
}

// waitServing waits until the proxy answers with version.
func (a *app) waitServing(version string, within time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		code, v, err := a.get("/")
		if err == nil && code == 200 && v == version {
			return
		}
		last = fmt.Sprintf("status %d version %q err %v", code, v, err)
		time.Sleep(100 * time.Millisecond)
	}
	a.t.Fatalf("not serving %s within %s; last: %s", version, within, last)
}
