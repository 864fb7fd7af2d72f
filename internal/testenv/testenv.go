// Package testenv is used only by tests: it reaches the test Docker engine,
// builds berth and the test app as static binaries, and imports them as
// FROM scratch images, so no test ever pulls an image.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/engine"
)

// Engine connects to the test engine (DOCKER_HOST or the local socket). It
// skips the test when none answers, unless BERTH_TEST_DOCKER=1 (CI), where
// a missing engine is a failure; -short always skips.
func Engine(t testing.TB) *engine.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker engine; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := engine.Connect(ctx, engine.Endpoint{Host: "test", URL: os.Getenv("DOCKER_HOST")})
	if err != nil {
		if os.Getenv("BERTH_TEST_DOCKER") == "1" {
			t.Fatalf("BERTH_TEST_DOCKER=1 but no Docker engine: %v", err)
		}
		t.Skipf("no Docker engine reachable (set BERTH_TEST_DOCKER=1 to fail instead): %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ModuleRoot is the repository root.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	builds   = map[string]string{}
	buildsMu sync.Mutex
	buildDir string
)

// GoBuild builds a static linux binary of pkg (a path relative to the
// module root) once per test process and returns its path.
func GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if p, ok := builds[pkg]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "berth-test-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./"+pkg)
	cmd.Dir = ModuleRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	builds[pkg] = out
	return out
}

// Berth builds berth and returns the executable's path.
func Berth(t testing.TB) string { return GoBuild(t, "cmd/berth") }

// AppImage imports the test app as image ref with the given environment
// baked in (VERSION=v1, FAIL_HEALTH=1, START_DELAY=2s, ...).
func AppImage(t testing.TB, eng *engine.Client, ref string, env ...string) {
	t.Helper()
	bin := GoBuild(t, "internal/testenv/testapp")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	changes := []string{`ENTRYPOINT ["/app"]`, `LABEL berth.test=true`}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		changes = append(changes, fmt.Sprintf("ENV %s=%s", k, v))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eng.ImportImage(ctx, ref, []engine.ImageFile{{Path: "app", Mode: 0o755, Data: data}}, changes); err != nil {
		t.Fatalf("importing %s: %v", ref, err)
	}
}

// FreePort returns a TCP port free on loopback right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
