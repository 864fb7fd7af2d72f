package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
	engines := testenv.StartEngines(t, 2, testenv.ExtraEngineOptions{})
	plain := engines[0]
	guarded := engines[1]
	guarded.Restart(t, []string{"--authorization-plugin=" + name})
	const image = "berth-it/app:1.0"
	for _, e := range engines {
		testenv.AppImage(t, e.Client(t), image)
	}

	body := []byte(`{"Image":"` + image + `","User":"10001","HostConfig":{"CapDrop":["ALL"],"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"],"Memory":67108864}}`)
	type sample struct{ create, remove, list time.Duration }
	clients := map[string]*http.Client{plain.Socket: unixClient(plain.Socket), guarded.Socket: unixClient(guarded.Socket)}
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
	var plainS, guardS []sample
	var plainWall, guardWall time.Duration
	for i := range n {
		order := []*testenv.ExtraEngine{plain, guarded}
		if i%2 == 1 {
			order = []*testenv.ExtraEngine{guarded, plain}
		}
		for _, e := range order {
			t0 := time.Now()
			s, err := measure(e.Socket, i)
			if err != nil {
				t.Fatalf("%s: %v", e.Name, err)
			}
			if e == plain {
				plainS, plainWall = append(plainS, s), plainWall+time.Since(t0)
			} else {
				guardS, guardWall = append(guardS, s), guardWall+time.Since(t0)
			}
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
	fmt.Fprintf(&b, "guard cost per Docker API call, %d rounds, engines alternated (Docker %s)\n", n, engineVersion(t, plain.Socket))
	fmt.Fprintf(&b, "%-26s %12s %12s %12s %12s %12s %12s\n", "call", "p50 without", "p50 with", "p99 without", "p99 with", "p50 added", "p99 added")
	for _, c := range []struct {
		name string
		f    func(sample) time.Duration
	}{
		{"POST /containers/create", func(s sample) time.Duration { return s.create }},
		{"GET /containers/json", func(s sample) time.Duration { return s.list }},
		{"DELETE /containers/{id}", func(s sample) time.Duration { return s.remove }},
	} {
		a, g := pick(plainS, c.f), pick(guardS, c.f)
		fmt.Fprintf(&b, "%-26s %12s %12s %12s %12s %12s %12s\n", c.name, ms(q(a, .5)), ms(q(g, .5)), ms(q(a, .99)), ms(q(g, .99)), ms(q(g, .5)-q(a, .5)), ms(q(g, .99)-q(a, .99)))
	}
	rateA := float64(n) / plainWall.Seconds()
	rateG := float64(n) / guardWall.Seconds()
	fmt.Fprintf(&b, "create+list+remove cycles/s: without %.1f, with %.1f, ratio %.3fx\n", rateA, rateG, rateG/rateA)
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
