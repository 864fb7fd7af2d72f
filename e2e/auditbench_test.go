package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/testenv"
)

// TestBenchAudit measures `berth audit` on one engine with many running
// containers and images (default 500 and 200): an engine of the
// benchmark's own, data on tmpfs (bench/audit.sh). It reports; it does not
// assert the targets.
func TestBenchAudit(t *testing.T) {
	if os.Getenv("BERTH_BENCH") != "1" {
		t.Skip("a benchmark: run with BERTH_BENCH=1 (bench/audit.sh)")
	}
	nContainers, nImages := envInt("BERTH_BENCH_CONTAINERS", 500), envInt("BERTH_BENCH_IMAGES", 200)
	eng := testenv.StartEngine(t, testenv.ExtraEngineOptions{})
	cli := eng.Client(t)
	bin := testenv.GoBuild(t, "internal/testenv/testapp")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	t0 := time.Now()
	images := make([]string, nImages)
	parallel(nImages, 4, func(i int) error {
		images[i] = fmt.Sprintf("bench/app-%03d:1.%d", i, i)
		return cli.ImportImage(ctx, images[i], []engine.ImageFile{{Path: "app", Mode: 0o755, Data: data}},
			[]string{`ENTRYPOINT ["/app"]`, fmt.Sprintf("ENV VARIANT=%d", i)})
	}, t)
	t.Logf("%d images imported in %s", nImages, time.Since(t0).Round(time.Second))
	t0 = time.Now()
	parallel(nContainers, 8, func(i int) error {
		out, err := eng.Docker(ctx, "run", "-d", "--name", fmt.Sprintf("c%03d", i), "--network", "none", "--user", "10001", images[i%nImages], "worker")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}, t)
	t.Logf("%d containers started in %s", nContainers, time.Since(t0).Round(time.Second))
	if out, err := eng.Docker(ctx, "ps", "-q"); err != nil || strings.Count(out, "\n") < nContainers {
		t.Fatalf("running: %d lines, %v", strings.Count(out, "\n"), err)
	}

	berth := testenv.Berth(t)
	var lines []string
	for run := 1; run <= 3; run++ {
		for _, args := range [][]string{{"audit", "-H", eng.Host, "--format", "json"}, {"doctor", "-H", eng.Host, "--format", "json"}} {
			cmd := exec.CommandContext(ctx, berth, args...)
			cmd.Dir = t.TempDir()
			t0 := time.Now()
			out, err := cmd.Output()
			wall := time.Since(t0)
			if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 7) {
				t.Fatalf("berth %v: %v\n%s", args, err, out)
			}
			if args[0] == "doctor" {
				var d struct {
					Overall  string
					Answers  []any
					Blockers []any
				}
				if err := json.Unmarshal(out, &d); err != nil {
					t.Fatalf("berth %v: not JSON: %v", args, err)
				}
				lines = append(lines, fmt.Sprintf("run %d: berth doctor: wall %.2f s; %d answers, overall %q, %d blockers",
					run, wall.Seconds(), len(d.Answers), d.Overall, len(d.Blockers)))
				continue
			}
			var doc struct {
				Results []struct {
					Area, Target string
				}
				Incomplete []string
			}
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatalf("berth %v: not JSON: %v", args, err)
			}
			perArea := map[string]int{}
			targets := map[string]bool{}
			for _, r := range doc.Results {
				perArea[r.Area]++
				targets[r.Area+"/"+r.Target] = true
			}
			lines = append(lines, fmt.Sprintf("run %d: berth %s: wall %.2f s; %d results (engine %d, host %d, containers %d, images %d) on %d targets; incomplete: %d",
				run, args[0], wall.Seconds(), len(doc.Results), perArea["engine"], perArea["host"], perArea["containers"], perArea["images"], len(targets), len(doc.Incomplete)))
		}
	}
	report := fmt.Sprintf("audit of %d running containers and %d images on one engine (Docker %s, data on tmpfs)\n%s\n",
		nContainers, nImages, cli.ServerVersion, strings.Join(lines, "\n"))
	t.Log("\n" + report)
	if out := os.Getenv("BERTH_BENCH_OUT"); out != "" {
		_ = os.WriteFile(out, []byte(report), 0o644)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// parallel runs f(0..n-1), par at once, failing the test on the first error.
func parallel(n, par int, f func(i int) error, t *testing.T) {
	t.Helper()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("item %d: %w", i, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}
