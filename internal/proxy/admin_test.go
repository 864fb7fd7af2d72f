package proxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdminAPI(t *testing.T) {
	p := startProxy(t, Options{})
	ctx := context.Background()

	fi, err := os.Stat(p.socket)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket mode: %v %v, want 0600", fi.Mode(), err)
	}
	if err := p.admin.Healthz(ctx); err != nil {
		t.Fatalf("healthz: %v", err)
	}

	// Raw wire format, as `berth proxy admin` prints it.
	raw := func(method, path, body string) (string, error) {
		var out bytes.Buffer
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		err := AdminCall(ctx, p.socket, method, path, b, &out)
		return strings.TrimSpace(out.String()), err
	}
	if out, err := raw("GET", "/healthz", ""); err != nil || out != `{"ok":true}` {
		t.Fatalf("GET /healthz: %s %v", out, err)
	}
	if out, err := raw("PUT", "/routes", `{"key":"shop/web","hosts":["Shop.Test"],"target":"shop-web-1:8080"}`); err != nil || out != `{"previous":""}` {
		t.Fatalf("PUT /routes: %s %v", out, err)
	}
	if out, err := raw("PUT", "/routes", `{"key":"shop/web","hosts":["shop.test"],"target":"shop-web-2:8080"}`); err != nil || out != `{"previous":"shop-web-1:8080","previous_targets":["shop-web-1:8080"]}` {
		t.Fatalf("switch: %s %v", out, err)
	}
	if _, err := p.admin.SetRoute(ctx, Route{Key: "api/web", Hosts: []string{"api.test"}, Target: ""}); err != nil {
		t.Fatal(err)
	}
	out, err := raw("GET", "/routes", "")
	want := `{"routes":[{"key":"api/web","hosts":["api.test"],"target":"","inflight":0},{"key":"shop/web","hosts":["shop.test"],"target":"shop-web-2:8080","targets":["shop-web-2:8080"],"inflight":0}]}`
	if err != nil || out != want {
		t.Fatalf("GET /routes:\n got %s\nwant %s (%v)", out, want, err)
	}

	errCases := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"bad key", "PUT", "/routes", `{"key":"shop","hosts":["a.test"],"target":"x:1"}`, 400, "must be app/service"},
		{"port in host", "PUT", "/routes", `{"key":"a/web","hosts":["a.test:80"],"target":"x:1"}`, 400, "must not include a port"},
		{"target without port", "PUT", "/routes", `{"key":"a/web","hosts":["a.test"],"target":"x"}`, 400, "want host:port"},
		{"target and targets disagree", "PUT", "/routes", `{"key":"a/web","hosts":["a.test"],"target":"x:1","targets":["y:1","x:1"]}`, 400, "disagree"},
		{"target twice", "PUT", "/routes", `{"key":"a/web","hosts":["a.test"],"targets":["x:1","x:1"]}`, 400, "listed twice"},
		{"bad one of targets", "PUT", "/routes", `{"key":"a/web","hosts":["a.test"],"targets":["x:1","y"]}`, 400, "want host:port"},
		{"drain still routed", "POST", "/drain", `{"targets":["gone:1","shop-web-2:8080"],"timeout_ms":0}`, 409, "still routed by shop/web"},
		{"unknown field", "PUT", "/routes", `{"key":"a/web","hosts":["a.test"],"targt":"x:1"}`, 400, "unknown field"},
		{"host claimed twice", "PUT", "/routes", `{"key":"blog/web","hosts":["blog.test","SHOP.test"],"target":"x:1"}`, 400, "shop.test\" is already routed by shop/web; remove it there before adding it to blog/web"},
		{"delete absent", "DELETE", "/routes?key=nope/web", "", 404, "no such route: nope/web"},
		{"delete without key", "DELETE", "/routes", "", 400, "missing ?key"},
		{"drain negative", "POST", "/drain", `{"target":"x:1","timeout_ms":-1}`, 400, "timeout_ms"},
		{"unknown endpoint", "GET", "/nope", "", 404, "no admin endpoint GET /nope"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := raw(tc.method, tc.path, tc.body)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status || !strings.Contains(apiErr.Message, tc.msg) {
				t.Fatalf("got %v, want %d %q", err, tc.status, tc.msg)
			}
			// The body survives on out for callers across docker exec.
			if perr := ParseAPIError([]byte(out)); perr.Error() != err.Error() {
				t.Fatalf("body %s parses to %v, want %v", out, perr, err)
			}
		})
	}

	if err := p.admin.DeleteRoute(ctx, "nope/web"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("DeleteRoute of absent key: %v, want ErrNoRoute", err)
	}
	if err := p.admin.DeleteRoute(ctx, "api/web"); err != nil {
		t.Fatal(err)
	}
	routes, err := p.admin.Routes(ctx)
	if err != nil || len(routes) != 1 || routes[0].Key != "shop/web" || routes[0].Target != "shop-web-2:8080" {
		t.Fatalf("Routes = %+v, %v", routes, err)
	}
}

func TestAdminCallWithoutProxy(t *testing.T) {
	socket := filepath.Join(shortTempDir(t), "absent.sock")
	err := AdminCall(context.Background(), socket, "GET", "/healthz", nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "is berth-proxy running") {
		t.Fatalf("got %v", err)
	}
}

// TestRun exercises the entry point the CLI calls: socket directory created,
// graceful stop on cancel, socket removed.
func TestRun(t *testing.T) {
	dir := shortTempDir(t)
	socket := filepath.Join(dir, "run", "berth", "admin.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Listen:      "127.0.0.1:0",
			AdminSocket: socket,
			StateFile:   filepath.Join(dir, "state.json"),
			Logger:      slog.New(slog.DiscardHandler),
		})
	}()
	c := NewClient(UnixCaller{Socket: socket})
	waitFor(t, "the admin socket", func() bool { return c.Healthz(ctx) == nil })
	if _, err := c.SetRoute(ctx, Route{Key: "a/web", Hosts: []string{"a.test"}, Target: "a:80"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Fatalf("admin socket left behind: %v", err)
	}

	// A corrupt state file stops Run before it listens.
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Options{Listen: "127.0.0.1:0", AdminSocket: socket, StateFile: filepath.Join(dir, "state.json"), Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "state.json") {
		t.Fatalf("Run with corrupt state: %v", err)
	}
}
