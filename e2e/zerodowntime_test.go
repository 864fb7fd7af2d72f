package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// sample is one request a prober made through the proxy.
type sample struct {
	start, end time.Time
	code       int
	version    string
	err        error
}

// prober keeps requesting path until stopped and records every answer.
type prober struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startProber(a *app, path string, workers int, pause time.Duration) *prober {
	p := &prober{stop: make(chan struct{})}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				s := sample{start: time.Now()}
				s.code, s.version, s.err = a.get(path)
				s.end = time.Now()
				p.mu.Lock()
				p.samples = append(p.samples, s)
				p.mu.Unlock()
				time.Sleep(pause)
			}
		}()
	}
	return p
}

func (p *prober) finish() []sample {
	close(p.stop)
	p.wg.Wait()
	return p.samples
}

// hey runs the hey load generator against the proxy until stopped.
type hey struct {
	cmd *exec.Cmd
	out strings.Builder
}

func startHey(t *testing.T, a *app) *hey {
	t.Helper()
	path, err := exec.LookPath("hey")
	if err != nil {
		t.Fatalf("the load generator hey is not installed (fix: apt-get install hey; .ci/run does): %v", err)
	}
	h := &hey{cmd: exec.Command(path, "-z", "150s", "-c", "8", "-host", a.host, a.url("/"))}
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return h
}

var (
	heyStatus = regexp.MustCompile(`\[(\d{3})\]\s+(\d+) responses`)
	heyError  = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(.+)$`)
)

// stop interrupts hey, which then prints its report, and returns the count
// of 2xx answers and the failures (non-2xx answers and transport errors).
func (h *hey) stop(t *testing.T) (ok int, failed []string) {
	t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGINT)
	_ = h.cmd.Wait()
	report := h.out.String()
	for _, m := range heyStatus.FindAllStringSubmatch(report, -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1][0] == '2' {
			ok += n
		} else {
			failed = append(failed, m[0])
		}
	}
	if i := strings.Index(report, "Error distribution:"); i >= 0 {
		for _, m := range heyError.FindAllStringSubmatch(report[i:], -1) {
			failed = append(failed, m[0])
		}
	}
	if ok == 0 {
		t.Fatalf("hey reported no successful requests:\n%s", report)
	}
	return ok, failed
}

// TestZeroDowntimeDeployRollback is berth's core promise under real load:
// deploy v2, deploy a v3 that fails its health check, roll back to v1, with
// zero failed requests, every answer from the release that should serve at
// that moment, and requests in flight at a switch (held 3 s) completing 200.
func TestZeroDowntimeDeployRollback(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:v2", "VERSION=v2")
	testenv.AppImage(t, a.eng, "berth-testapp:v3", "VERSION=v3", "FAIL_HEALTH=1")

	a.mustRun("deploy")
	a.waitServing("v1", 10*time.Second)

	load := startHey(t, a)
	probe := startProber(a, "/", 2, 10*time.Millisecond)
	held := startProber(a, "/?hold_ms=3000", 3, 200*time.Millisecond)
	time.Sleep(2 * time.Second)

	d2start := time.Now()
	a.mustRun("deploy", "--image", "web=berth-testapp:v2")
	d2end := time.Now()
	time.Sleep(time.Second)

	out, errOut, code := a.run("deploy", "--image", "web=berth-testapp:v3")
	if code != 5 {
		t.Fatalf("deploying an unhealthy v3: exit %d, want 5 (unhealthy)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"did not become healthy", "health check failing on purpose", "last health check: GET /up", "500", "previous release keeps serving"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the failed deploy's message lacks %q:\n%s", want, errOut)
		}
	}
	time.Sleep(time.Second)

	rbStart := time.Now()
	a.mustRun("rollback", "web", "--to", "1")
	rbEnd := time.Now()
	time.Sleep(2 * time.Second)

	samples := probe.finish()
	heldSamples := held.finish()
	ok, failed := load.stop(t)
	t.Logf("hey: %d successful requests, %d failures; prober: %d samples; held: %d", ok, len(failed), len(samples), len(heldSamples))
	if len(failed) > 0 {
		t.Errorf("hey saw failed requests:\n%s", strings.Join(failed, "\n"))
	}

	// Every answer came from the release that should serve at that moment.
	var seq []string
	for _, s := range append([]sample(nil), samples...) {
		if s.err != nil || s.code != 200 {
			t.Errorf("request at %s failed: status %d err %v", s.start.Format(time.StampMilli), s.code, s.err)
			continue
		}
		want := ""
		switch {
		case s.end.Before(d2start):
			want = "v1"
		case s.start.After(d2end) && s.end.Before(rbStart):
			want = "v2"
		case s.start.After(rbEnd):
			want = "v1"
		}
		if want != "" && s.version != want {
			t.Errorf("request at %s answered by %s, want %s", s.start.Format(time.StampMilli), s.version, want)
		}
		if s.version == "v3" {
			t.Errorf("the unhealthy v3 received traffic at %s", s.start.Format(time.StampMilli))
		}
		if len(seq) == 0 || seq[len(seq)-1] != s.version {
			seq = append(seq, s.version)
		}
	}
	if got := strings.Join(seq, ","); got != "v1,v2,v1" {
		t.Errorf("versions served, in order: %s; want v1,v2,v1 (one clean switch each way)", got)
	}

	// Requests held open across a switch completed with 200.
	var firstV2 time.Time
	for _, s := range samples {
		if s.version == "v2" && (firstV2.IsZero() || s.end.Before(firstV2)) {
			firstV2 = s.end
		}
	}
	inFlightAtSwitch := 0
	for _, s := range heldSamples {
		if s.err != nil || s.code != 200 {
			t.Errorf("held request started %s failed: status %d err %v", s.start.Format(time.StampMilli), s.code, s.err)
			continue
		}
		if s.version == "v1" && s.start.Before(firstV2) && s.end.After(firstV2) {
			inFlightAtSwitch++
		}
	}
	if inFlightAtSwitch == 0 {
		t.Errorf("no held request was in flight on v1 at the switch to v2; the test proves nothing about draining")
	}
	t.Logf("%d requests held 3 s were in flight on v1 at the switch and completed 200", inFlightAtSwitch)

	// The history shows all of it.
	rel := a.mustRun("releases", "web", "--format", "json")
	for _, want := range []string{`"version": "v1"`, `"version": "v2"`} {
		if !strings.Contains(rel, want) {
			t.Errorf("berth releases lacks %s:\n%s", want, rel)
		}
	}
	if strings.Contains(rel, `"version": "v3"`) {
		t.Errorf("the failed v3 was kept as a release:\n%s", rel)
	}
}
