package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestBenchGuard measures what the guard costs each Docker API call: two
// engines of the test's own, one with --authorization-plugin pointing at a
// `berth guard` and one without, driven alternately in one run so drift on
// the machine hits both alike. It runs only with BERTH_BENCH=1
// (bench/guard.sh); it reports, it does not assert targets.
func TestBenchGuard(t *testing.T) {
	if os.Getenv("BERTH_BENCH") != "1" {
		t.Skip("a benchmark: run with BERTH_BENCH=1 (bench/guard.sh)")
	}
	n := 300
	if s := os.Getenv("BERTH_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir, err := os.MkdirTemp("", "bg-bench-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := fmt.Sprintf("berth-bench-%d", time.Now().UnixNano()%1_000_000)
	startGuardProc(t, name, dir)
	noop := startNoopPlugin(t, name+"-noop")
	engines := testenv.StartEngines(t, 3, testenv.ExtraEngineOptions{})
	plain, floor, guarded := engines[0], engines[1], engines[2]
	floor.Restart(t, []string{"--authorization-plugin=" + noop})
	guarded.Restart(t, []string{"--authorization-plugin=" + name})
	const image = "berth-it/app:1.0"
	for _, e := range engines {
		testenv.AppImage(t, e.Client(t), image)
	}

	body := []byte(`{"Image":"` + image + `","User":"10001","HostConfig":{"CapDrop":["ALL"],"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"],"Memory":67108864}}`)
	type sample struct{ create, remove, list time.Duration }
	clients := map[string]*http.Client{}
	for _, e := range engines {
		clients[e.Socket] = unixClient(e.Socket)
	}
	measure := func(sock string, i int) (sample, error) {
		c := clients[sock]
		var s sample
		t0 := time.Now()
		code, out, err := call(c, "POST", fmt.Sprintf("/v1.41/containers/create?name=b%d", i), body)
		s.create = time.Since(t0)
		if err != nil || code != http.StatusCreated {
			return s, fmt.Errorf("create: %d %s %v", code, out, err)
		}
		t0 = time.Now()
		if code, out, err := call(c, "GET", "/v1.41/containers/json?all=1&limit=5", nil); err != nil || code != 200 {
			return s, fmt.Errorf("list: %d %s %v", code, out, err)
		}
		s.list = time.Since(t0)
		t0 = time.Now()
		if code, out, err := call(c, "DELETE", fmt.Sprintf("/v1.41/containers/b%d?force=1", i), nil); err != nil || code != http.StatusNoContent {
			return s, fmt.Errorf("remove: %d %s %v", code, out, err)
		}
		s.remove = time.Since(t0)
		return s, nil
	}
	// Warm both engines up first.
	for i := range 20 {
		for _, e := range engines {
			if _, err := measure(e.Socket, 1_000_000+i); err != nil {
				t.Fatal(err)
			}
		}
	}
	samples := map[*testenv.ExtraEngine][]sample{}
	wall := map[*testenv.ExtraEngine]time.Duration{}
	for i := range n {
		// Rotate the order so each engine goes first, second and third alike.
		for k := range engines {
			e := engines[(i+k)%len(engines)]
			t0 := time.Now()
			s, err := measure(e.Socket, i)
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			samples[e] = append(samples[e], s)
			wall[e] += time.Since(t0)
		}
	}
	pick := func(ss []sample, f func(sample) time.Duration) []time.Duration {
		out := make([]time.Duration, len(ss))
		for i, s := range ss {
			out[i] = f(s)
		}
		slices.Sort(out)
		return out
	}
	q := func(d []time.Duration, p float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*p))] }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	var b strings.Builder
	fmt.Fprintf(&b, "guard cost per Docker API call, %d rounds, engines rotated (Docker %s)\n", n, engineVersion(t, plain.Socket))
	fmt.Fprintf(&b, "without: no authorization plugin; no-op: a plugin that allows everything at once (the protocol's own cost); guard: berth guard\n")
	fmt.Fprintf(&b, "%-24s %-6s %9s %9s %9s %12s %12s\n", "call", "", "without", "no-op", "guard", "guard-without", "guard-no-op")
	for _, c := range []struct {
		name string
		f    func(sample) time.Duration
	}{
		{"POST /containers/create", func(s sample) time.Duration { return s.create }},
		{"GET /containers/json", func(s sample) time.Duration { return s.list }},
		{"DELETE /containers/{id}", func(s sample) time.Duration { return s.remove }},
	} {
		a, f, g := pick(samples[plain], c.f), pick(samples[floor], c.f), pick(samples[guarded], c.f)
		for _, p := range []float64{.5, .99} {
			fmt.Fprintf(&b, "%-24s p%-5.0f %9s %9s %9s %12s %12s\n", c.name, p*100, ms(q(a, p)), ms(q(f, p)), ms(q(g, p)), ms(q(g, p)-q(a, p)), ms(q(g, p)-q(f, p)))
		}
	}
	rate := func(e *testenv.ExtraEngine) float64 { return float64(n) / wall[e].Seconds() }
	fmt.Fprintf(&b, "create+list+remove cycles/s: without %.1f, no-op %.1f (%.3fx), guard %.1f (%.3fx of without, %.3fx of no-op)\n",
		rate(plain), rate(floor), rate(floor)/rate(plain), rate(guarded), rate(guarded)/rate(plain), rate(guarded)/rate(floor))
	t.Log("\n" + b.String())
	if out := os.Getenv("BERTH_BENCH_OUT"); out != "" {
		_ = os.WriteFile(out, []byte(b.String()), 0o644)
	}
}

func unixClient(sock string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

func call(c *http.Client, method, path string, body []byte) (int, string, error) {
	req, err := http.NewRequest(method, "http://engine"+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func engineVersion(t *testing.T, sock string) string {
	_, out, err := call(unixClient(sock), "GET", "/version", nil)
	if err != nil {
		return "?"
	}
	if i := strings.Index(out, `"Version":"`); i >= 0 {
		rest := out[i+len(`"Version":"`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	return "?"
}

// noopEnv makes the test binary serve the no-op plugin on the socket it
// names instead of running tests: a process of its own, like the guard.
const noopEnv = "BERTH_NOOP_PLUGIN_SOCKET"

func TestMain(m *testing.M) {
	if sock := os.Getenv(noopEnv); sock != "" {
		serveNoop(sock)
		return
	}
	os.Exit(m.Run())
}

func serveNoop(sock string) {
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
		if r.URL.Path == "/Plugin.Activate" {
			io.WriteString(w, `{"Implements":["authz"]}`)
			return
		}
		io.WriteString(w, `{"Allow":true}`)
	}))
}

// startNoopPlugin runs an authorization plugin that allows everything
// without reading anything, in a process of its own: the cost of the
// protocol itself, which no plugin avoids.
func startNoopPlugin(t *testing.T, name string) string {
	t.Helper()
	sock := filepath.Join("/run/docker/plugins", name+".sock")
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), noopEnv+"="+sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.Remove(sock)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return name
		}
		if time.Now().After(deadline) {
			t.Fatal("the no-op plugin did not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
