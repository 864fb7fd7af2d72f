package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// expectFail runs berth, wants exit code want, and wants every one of
// phrases in its stderr.
func (a *app) expectFail(want int, phrases []string, args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != want {
		a.t.Fatalf("berth %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	for _, p := range phrases {
		if !strings.Contains(errOut, p) {
			a.t.Errorf("berth %s: stderr lacks %q:\n%s", strings.Join(args, " "), p, errOut)
		}
	}
	return errOut
}

func TestUnreachableEngine(t *testing.T) {
	a := newApp(t, "", "")
	write(t, filepath.Join(a.dir, "berth.yaml"), fmt.Sprintf("app: %s\nhosts:\n  far: tcp://127.0.0.1:1\nproxy: { http: 127.0.0.1:%d }\nservices:\n  web:\n    route: { host: web.test, port: 8080 }\n", a.name, a.port))
	start := time.Now()
	a.expectFail(3, []string{"host far", "tcp://127.0.0.1:1", "fix:"}, "deploy")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("an unreachable engine took %s to report; want a few seconds", d)
	}
	// Restore a reachable config so cleanup can run.
	write(t, filepath.Join(a.dir, "berth.yaml"), fmt.Sprintf("app: %s\nproxy: { http: 127.0.0.1:%d }\nservices:\n  web:\n    route: { host: web.test, port: 8080 }\n", a.name, a.port))
}

func TestPortTaken(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", a.port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before, beforeErr := a.eng.InspectContainer(t.Context(), "berth-proxy")
	a.expectFail(6, []string{"berth-proxy cannot listen on 127.0.0.1:", "taken", "proxy.http"}, "deploy")
	after, err := a.eng.InspectContainer(t.Context(), "berth-proxy")
	switch {
	case beforeErr != nil && err == nil:
		t.Errorf("a berth-proxy that could not start was left behind")
	case beforeErr == nil && (err != nil || after.ID != before.ID || after.Running != before.Running):
		t.Errorf("the berth-proxy that ran before was not restored: before %s running=%v, after %s running=%v (%v)", before.ID, before.Running, after.ID, after.Running, err)
	}
	if _, err := a.eng.InspectContainer(t.Context(), "berth-proxy-previous"); err == nil {
		t.Errorf("berth-proxy-previous was left behind")
	}
}

func TestNameTakenByForeignContainer(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	name := a.name + "-web-1"
	if out, err := exec.Command("docker", "create", "--name", name, "berth-testapp:v1").CombinedOutput(); err != nil {
		t.Fatalf("docker create: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	a.expectFail(6, []string{name, "not managed by berth", "fix:"}, "deploy")
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Status}}", name).Output()
	if err != nil || strings.TrimSpace(string(out)) != "created" {
		t.Errorf("berth touched the foreign container %s: %s %v", name, out, err)
	}
}

func TestWrongRoutePort(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	write(t, filepath.Join(a.dir, "berth.yaml"), fmt.Sprintf("app: %s\nproxy: { http: 127.0.0.1:%d }\nservices:\n  web:\n    route: { host: web.test, port: 9999, health_interval: 200ms }\n    deploy: { health_timeout: 3s }\n", a.name, a.port))
	a.expectFail(5, []string{"nothing listens on port 9999", "route.port"}, "deploy")
}

// TestLockHeld runs a slow deploy and a second one beside it: the second
// fails at once naming the holder, or waits with --lock-wait.
func TestLockHeld(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:slow", "VERSION=slow", "START_DELAY=4s")
	a.mustRun("deploy")

	slow := a.startUntil("health", "deploy", "--image", "web=berth-testapp:slow", "--reason", "slow one")
	a.expectFail(4, []string{"locked", "slow one", "berth lock release", "--lock-wait"}, "deploy")
	status := a.mustRun("lock", "status", "--format", "json")
	if !strings.Contains(status, `"locked": true`) || !strings.Contains(status, "slow one") {
		t.Errorf("lock status while held:\n%s", status)
	}
	out := a.mustRun("deploy", "--lock-wait", "60s")
	if err := slow.Wait(); err != nil {
		t.Fatalf("the slow deploy failed: %v", err)
	}
	if !strings.Contains(out, "unchanged") && !strings.Contains(out, "deployed") {
		t.Errorf("the waiting deploy printed:\n%s", out)
	}
	if s := a.mustRun("lock", "status"); !strings.Contains(s, "not locked") {
		t.Errorf("lock still held after both deploys: %s", s)
	}
}

// startUntil starts berth in the background and returns once its progress
// reached a line containing step; the caller signals and waits.
func (a *app) startUntil(step string, args ...string) *exec.Cmd {
	a.t.Helper()
	cmd := exec.Command(a.berth, args...)
	cmd.Dir = a.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		a.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	waitLine(a.t, stderr, step)
	return cmd
}

// waitLine reads r until a line contains s, then keeps draining r.
func waitLine(t *testing.T, r io.Reader, s string) {
	t.Helper()
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		done := false
		for sc.Scan() {
			if !done && strings.Contains(sc.Text(), s) {
				close(found)
				done = true
			}
		}
		if !done {
			close(found)
		}
	}()
	select {
	case <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("no line with %q within 60s", s)
	}
}

// TestInterruptBeforeSwitch sends Ctrl-C during the health wait: exit 130,
// the new container is gone, the lock released, the old release serving.
func TestInterruptBeforeSwitch(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:slow", "VERSION=slow", "START_DELAY=6s")
	a.mustRun("deploy")
	cmd := a.startUntil("health", "deploy", "--image", "web=berth-testapp:slow")
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("interrupted deploy: %v, want exit 130", err)
	}
	a.waitServing("v1", 2*time.Second)
	if _, err := a.eng.InspectContainer(t.Context(), a.name+"-web-2"); err == nil {
		t.Errorf("the interrupted release %s-web-2 was left behind", a.name)
	}
	if s := a.mustRun("lock", "status"); !strings.Contains(s, "not locked") {
		t.Errorf("lock left after Ctrl-C: %s", s)
	}
}

// TestKilledDeployConverges SIGKILLs berth mid-deploy, at the health wait
// and during the drain, and checks that a re-run converges: one serving
// container, no leftover, the right version.
func TestKilledDeployConverges(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:v2", "VERSION=v2", "START_DELAY=3s")
	a.mustRun("deploy")

	kill := func(step string, args ...string) {
		cmd := a.startUntil(step, args...)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
	// Killed while the new release starts: v1 must keep serving.
	kill(" health ", "deploy", "--image", "web=berth-testapp:v2")
	a.waitServing("v1", 2*time.Second)
	a.expectFail(4, []string{"locked"}, "deploy", "--image", "web=berth-testapp:v2")
	a.mustRun("lock", "release")
	a.mustRun("deploy", "--image", "web=berth-testapp:v2")
	a.waitServing("v2", 2*time.Second)
	assertServing(t, a, "web", 1)

	// Killed during the drain (a held request keeps it open): the route
	// already points at v1 again; a re-run finishes the handover.
	go func() { _, _, _ = a.get("/?hold_ms=6000") }()
	time.Sleep(300 * time.Millisecond)
	kill(" drain ", "rollback", "web", "--to", "1")
	a.waitServing("v1", 2*time.Second)
	a.mustRun("lock", "release")
	a.mustRun("deploy", "--image", "web=berth-testapp:v1")
	a.waitServing("v1", 2*time.Second)
	assertServing(t, a, "web", 1)
}

// assertServing checks that exactly n containers of service run.
func assertServing(t *testing.T, a *app, service string, n int) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "--filter", "label=berth.app="+a.name, "--filter", "label=berth.service="+service, "--format", "{{.Names}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(out))
	if len(names) != n {
		t.Errorf("%d running containers of %s, want %d: %v", len(names), service, n, names)
	}
}

// TestValidate checks what `berth validate` tells a user about a bad file:
// exit 2 (the config-error code every command uses), the file, line and
// column, and a suggestion, without an engine.
func TestValidate(t *testing.T) {
	a := newApp(t, "", "")
	out := a.mustRun("validate")
	if !strings.Contains(out, "valid") || !strings.Contains(out, "compose files: ") {
		t.Errorf("validate on a good config: %s", out)
	}
	write(t, filepath.Join(a.dir, "berth.yaml"), fmt.Sprintf("app: %s\nproxy: { http: 127.0.0.1:%d }\nservices:\n  web:\n    rout: { host: web.test, port: 8080 }\n", a.name, a.port))
	a.expectFail(2, []string{"berth.yaml:5:5", "did you mean", "route"}, "validate")
	write(t, filepath.Join(a.dir, "compose.yaml"), "services:\n  web:\n    image: berth-testapp:v1\n    mem_limit: lots\n")
	write(t, filepath.Join(a.dir, "berth.yaml"), fmt.Sprintf("app: %s\nproxy: { http: 127.0.0.1:%d }\nservices:\n  web:\n    route: { host: web.test, port: 8080 }\n", a.name, a.port))
	a.expectFail(2, []string{"compose.yaml:4:16", "mem_limit", "512m"}, "validate")
	// Every other command refuses a bad config with the same code and
	// changes nothing.
	a.expectFail(2, []string{"compose.yaml:4:16"}, "deploy")
	a.expectFail(2, []string{"compose.yaml:4:16"}, "policy", "check")
	// A typo in the compose file: its line, the key path and what was meant.
	write(t, filepath.Join(a.dir, "compose.yaml"), "services:\n  web:\n    image: berth-testapp:v1\n    restat: always\n")
	for _, cmd := range [][]string{{"validate"}, {"policy", "check"}, {"deploy"}} {
		a.expectFail(2, []string{"compose.yaml:4:5: services.web.restat", `did you mean "restart"`}, cmd...)
	}
	write(t, filepath.Join(a.dir, "compose.yaml"), "services:\n  web:\n    image: berth-testapp:v1\n")
}

// TestPolicyRefusesBeforeAnyChange: a service that would hand the container
// the host is refused with every violation and its fix, exit 7, and nothing
// is created on the host (not even the lock).
func TestPolicyRefusesBeforeAnyChange(t *testing.T) {
	a := newApp(t, "", `    privileged: true
    volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro"]
    environment: { API_TOKEN: not-for-your-eyes }
`)
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	errOut := a.expectFail(7, []string{"policy refuses the deploy", "nothing was changed", "[privileged, critical]", "[docker-socket, critical]", "API_TOKEN", "fix:"}, "deploy")
	if strings.Contains(errOut, "not-for-your-eyes") {
		t.Errorf("the secret's value is in the output")
	}
	out, _ := exec.Command("docker", "ps", "-a", "--filter", "label=berth.app="+a.name, "--format", "{{.Names}}").Output()
	if strings.TrimSpace(string(out)) != "" {
		t.Errorf("containers were created despite the refusal: %s", out)
	}
	// `policy check` tells the same without an engine, for CI.
	check, _, code := a.run("policy", "check", "--format", "json")
	if code != 7 || !strings.Contains(check, `"rule": "privileged"`) {
		t.Errorf("policy check: exit %d\n%s", code, check)
	}
}
