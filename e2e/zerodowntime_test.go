package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
// zero failed requests and every answer from the release that should serve
// at that moment. At each switch one request is known to be in flight on the
// old release before the switch is issued (hold.go in the test app keeps it
// open until released); it is released only once new requests reach the new
// release and berth-proxy says it is draining the old one, and must complete
// with the old release's answer: draining is observed, not inferred from
// timestamps (docs/testing.md).
func TestZeroDowntimeDeployRollback(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:v2", "VERSION=v2")
	testenv.AppImage(t, a.eng, "berth-testapp:v3", "VERSION=v3", "FAIL_HEALTH=1")

	a.mustRun("deploy")
	a.waitServing("v1", 10*time.Second)

	load := startHey(t, a)
	probe := startProber(a, "/", 2, 10*time.Millisecond)
	time.Sleep(2 * time.Second)

	onV1 := a.hold(t, "v1-at-deploy", "v1")
	d2start := time.Now()
	deploy := a.runAsync("deploy", "--image", "web=berth-testapp:v2")
	a.waitSwitch(t, deploy, "v2")
	onV1.releaseAfterSwitch(t, a, deploy, "v2")
	if r := deploy.wait(t); r.code != 0 {
		t.Fatalf("deploying v2: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out.String(), r.errOut.String())
	}
	d2end := time.Now()
	time.Sleep(time.Second)

	// Held across a failed deploy and then across the rollback's switch.
	onV2 := a.hold(t, "v2-at-rollback", "v2")
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
	rollback := a.runAsync("rollback", "web", "--to", "1")
	a.waitSwitch(t, rollback, "v1")
	onV2.releaseAfterSwitch(t, a, rollback, "v1")
	if r := rollback.wait(t); r.code != 0 {
		t.Fatalf("rolling back to 1: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out.String(), r.errOut.String())
	}
	rbEnd := time.Now()
	time.Sleep(2 * time.Second)

	samples := probe.finish()
	ok, failed := load.stop(t)
	t.Logf("hey: %d successful requests, %d failures; prober: %d samples", ok, len(failed), len(samples))
	if len(failed) > 0 {
		t.Errorf("hey saw failed requests:\n%s", strings.Join(failed, "\n"))
	}

	// Every answer came from the release that should serve at that moment:
	// a request wholly before a deploy began, or wholly after it ended,
	// has only one right answer.
	var firstV2End, firstV1BackEnd time.Time
	for _, s := range samples {
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
		if s.version == "v2" && (firstV2End.IsZero() || s.end.Before(firstV2End)) {
			firstV2End = s.end
		}
		if s.version == "v1" && s.start.After(d2end) && (firstV1BackEnd.IsZero() || s.end.Before(firstV1BackEnd)) {
			firstV1BackEnd = s.end
		}
	}
	// One clean switch each way: once an answer came from v2, no request
	// started after it got v1 before the rollback began; once v1 answered
	// again, none started after it got v2. Only requests ordered by cause
	// (one ended before the other started) are compared, since concurrent
	// ones may reach the proxy in either order.
	if firstV2End.IsZero() || firstV1BackEnd.IsZero() {
		t.Errorf("the prober never saw v2 (first answer at %v) or v1 back (at %v)", firstV2End, firstV1BackEnd)
	}
	for _, s := range samples {
		if s.version == "v1" && s.start.After(firstV2End) && s.end.Before(rbStart) {
			t.Errorf("request at %s answered by v1 after v2 had answered (%s): traffic switched back and forth", s.start.Format(time.StampMilli), firstV2End.Format(time.StampMilli))
		}
		if s.version == "v2" && !firstV1BackEnd.IsZero() && s.start.After(firstV1BackEnd) {
			t.Errorf("request at %s answered by v2 after the rollback's v1 had answered (%s)", s.start.Format(time.StampMilli), firstV1BackEnd.Format(time.StampMilli))
		}
	}

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

// holdAnswer is what the test app's /hold and /holding answer.
type holdAnswer struct {
	Version, Host, Held string
	Released, Holding   bool
}

// heldRequest is one request to /hold through the proxy, kept open by the
// container that received it until the test releases it there.
type heldRequest struct {
	id, version string
	container   string // the holder's hostname: its container ID prefix
	done        chan struct{}
	code        int
	ans         holdAnswer
	err         error
}

// holdClient has no short timeout: a hold outlives httpClient's 15 s.
var holdClient = &http.Client{Timeout: 5 * time.Minute}

func (a *app) getJSON(path string, v any) (int, error) {
	req, _ := newReq(a, path)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusOK {
		if err = json.Unmarshal(body, v); err != nil {
			err = fmt.Errorf("answer %q: %w", body, err)
		}
	}
	return resp.StatusCode, err
}

// hold sends a request that the serving release keeps open, and returns
// once that release (which must be version) says it holds it: from then on
// the request is known to be in flight there.
func (a *app) hold(t *testing.T, id, version string) *heldRequest {
	t.Helper()
	h := &heldRequest{id: id, version: version, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		req, _ := newReq(a, "/hold?id="+id)
		resp, err := holdClient.Do(req)
		if err != nil {
			h.err = err
			return
		}
		defer resp.Body.Close()
		h.code = resp.StatusCode
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			if jerr := json.Unmarshal(body, &h.ans); jerr != nil {
				err = fmt.Errorf("answer %q: %w", body, jerr)
			}
		}
		h.err = err
	}()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		var ans holdAnswer
		code, err := a.getJSON("/holding?id="+id, &ans)
		if err == nil && code == http.StatusOK && ans.Holding {
			if ans.Version != version {
				t.Fatalf("request %s is held by %s, want %s", id, ans.Version, version)
			}
			h.container = ans.Host
			return h
		}
		select {
		case <-h.done:
			t.Fatalf("request %s ended before it was seen held: status %d err %v answer %+v", id, h.code, h.err, h.ans)
		default:
		}
		last = fmt.Sprintf("status %d err %v answer %+v", code, err, ans)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("request %s was not held by %s within 30s; last /holding: %s", id, version, last)
	return nil
}

// releaseAfterSwitch is called once new requests reach next: the held
// request must still be open (the switch did not cut it); it is released on
// its container only once berth-proxy is draining that container, and must
// then complete with its own release's answer.
func (h *heldRequest) releaseAfterSwitch(t *testing.T, a *app, run *berthRun, next string) {
	t.Helper()
	select {
	case <-h.done:
		t.Fatalf("the request held on %s was ended by the switch to %s before its release: status %d err %v answer %+v", h.version, next, h.code, h.err, h.ans)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := a.eng.InspectContainer(ctx, h.container)
	if err != nil {
		t.Fatal(err)
	}
	if n := waitDrainStarted(t, run, info.Name); n < 1 {
		t.Errorf("berth-proxy began draining %s with %d requests in flight; the held request is one", info.Name, n)
	}
	res, err := a.eng.Exec(ctx, h.container, []string{"/app", "release", h.id})
	if err != nil || res.ExitCode != 0 {
		// Most likely the drain cut the request off and the container
		// stopped: say so rather than only that the exec failed.
		select {
		case <-h.done:
			t.Fatalf("the request held on %s ended during the drain, before its release: status %d err %v answer %+v", h.version, h.code, h.err, h.ans)
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("releasing %s in container %s: err %v exit %d %s", h.id, h.container, err, res.ExitCode, res.Stderr)
	}
	select {
	case <-h.done:
	case <-time.After(time.Minute):
		t.Fatalf("request %s was still open a minute after its release", h.id)
	}
	if h.err != nil || h.code != http.StatusOK || h.ans.Version != h.version || h.ans.Held != h.id || !h.ans.Released {
		t.Errorf("the request in flight on %s at the switch to %s: status %d err %v answer %+v; want 200 from %s, released", h.version, next, h.code, h.err, h.ans, h.version)
		return
	}
	t.Logf("request %s, in flight on %s before the switch to %s, completed 200 from %s after it", h.id, h.version, next, h.version)
}

// berthRun is berth running in the background.
type berthRun struct {
	cmd         *exec.Cmd
	done        chan struct{}
	out, errOut bytes.Buffer
	code        int
	err         error
	started     time.Time
}

// runAsync starts berth as a.run would and returns at once, so the test can
// act while a deploy waits for its drain.
func (a *app) runAsync(args ...string) *berthRun {
	if a.ownProxy && len(args) > 0 && (args[0] == "deploy" || args[0] == "rollback") {
		args = append(args, "--recreate-proxy")
	}
	r := &berthRun{cmd: exec.Command(a.berth, args...), done: make(chan struct{}), started: time.Now()}
	r.cmd.Dir = a.dir
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.errOut
	go func() {
		defer close(r.done)
		r.err = r.cmd.Run()
		var ee *exec.ExitError
		if errors.As(r.err, &ee) {
			r.code, r.err = ee.ExitCode(), nil
		}
	}()
	return r
}

func (r *berthRun) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// wait waits for berth to exit; a run may take a drain and a stop.
func (r *berthRun) wait(t *testing.T) *berthRun {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(3 * time.Minute):
		_ = r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("berth %v still running after 3 minutes\nstdout:\n%s\nstderr:\n%s", r.cmd.Args[1:], r.out.String(), r.errOut.String())
	}
	if r.err != nil {
		t.Fatalf("running berth %v: %v", r.cmd.Args[1:], r.err)
	}
	return r
}

// waitSwitch waits until new requests through the proxy reach version,
// while run (the deploy or rollback making that switch) is still going.
func (a *app) waitSwitch(t *testing.T, run *berthRun, version string) {
	t.Helper()
	var last string
	for !run.finished() {
		code, v, err := a.get("/")
		if err == nil && code == http.StatusOK && v == version {
			return
		}
		last = fmt.Sprintf("status %d version %q err %v", code, v, err)
		time.Sleep(50 * time.Millisecond)
	}
	run.wait(t)
	t.Fatalf("berth %v exited %d before new requests reached %s (last: %s)\nstdout:\n%s\nstderr:\n%s", run.cmd.Args[1:], run.code, version, last, run.out.String(), run.errOut.String())
}

// waitDrainStarted waits for berth-proxy's "draining target" line for
// container, logged when run's drain call begins, and returns the in-flight
// count it gives. Releasing a held request only after this line is what
// makes the test fail if a drain cut requests off instead of waiting.
func waitDrainStarted(t *testing.T, run *berthRun, container string) int64 {
	t.Helper()
	since := run.started.Add(-time.Second).UTC().Format(time.RFC3339Nano)
	for !run.finished() {
		// stderr only: stdout is the access log, a line per request.
		cmd := exec.Command("docker", "logs", "--since", since, "berth-proxy")
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("docker logs berth-proxy: %v\n%s", err, errb.String())
		}
		for _, line := range strings.Split(errb.String(), "\n") {
			var l struct {
				Msg, Target string
				Inflight    int64
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "draining target" && strings.HasPrefix(l.Target, container+":") {
				return l.Inflight
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	run.wait(t)
	t.Fatalf("berth %v exited %d and berth-proxy never said it was draining %s\nstdout:\n%s\nstderr:\n%s", run.cmd.Args[1:], run.code, container, run.out.String(), run.errOut.String())
	return 0
}
