package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestProxyComesBackFromStateFile kills berth-proxy's process mid-load (a
// crash, not a stop) and checks that the engine restarts it and that it
// routes again from its state file, with no berth command in between. Then
// it deletes the proxy container outright: the next deploy recreates it and
// the routes come back from the state volume.
func TestProxyComesBackFromStateFile(t *testing.T) {
	a := newApp(t, "", "")
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	a.mustRun("deploy")
	a.waitServing("v1", 10*time.Second)

	probe := startProber(a, "/", 2, 20*time.Millisecond)
	time.Sleep(time.Second)
	info, err := a.eng.InspectContainer(context.Background(), "berth-proxy")
	if err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, "berth-proxy")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing berth-proxy (pid %d): %v", pid, err)
	}
	killed := time.Now()
	// Back, and routing to v1, without any berth command.
	a.waitServing("v1", 20*time.Second)
	back := time.Now()
	time.Sleep(time.Second)
	samples := probe.finish()
	after, _ := a.eng.InspectContainer(context.Background(), "berth-proxy")
	if after.ID != info.ID || after.RestartCount == info.RestartCount {
		t.Errorf("berth-proxy was not restarted in place by the engine: id %s->%s restarts %d->%d", info.ID[:12], after.ID[:12], info.RestartCount, after.RestartCount)
	}
	okAfter := 0
	for _, s := range samples {
		if s.start.After(back) {
			if s.err != nil || s.code != 200 || s.version != "v1" {
				t.Errorf("after the proxy came back, a request failed: %d %q %v", s.code, s.version, s.err)
			}
			okAfter++
		}
	}
	if okAfter == 0 {
		t.Errorf("no request was made after the proxy came back")
	}
	t.Logf("proxy killed; routing v1 again after %s; %d requests after", back.Sub(killed).Round(10*time.Millisecond), okAfter)

	// Removed entirely: the state volume survives and the next deploy (which
	// changes nothing else) brings the proxy and its routes back.
	if out, err := exec.Command("docker", "rm", "-f", "berth-proxy").CombinedOutput(); err != nil {
		t.Fatalf("docker rm -f berth-proxy: %v %s", err, out)
	}
	out := a.mustRun("deploy")
	if !strings.Contains(out, "unchanged") {
		t.Errorf("redeploy after the proxy was removed should leave web unchanged:\n%s", out)
	}
	a.waitServing("v1", 10*time.Second)
}

func pidOf(t *testing.T, container string) int {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", container).Output()
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(out)) {
		pid = pid*10 + int(c-'0')
	}
	if pid <= 0 {
		t.Fatalf("%s has no pid: %q", container, out)
	}
	return pid
}

// TestProxySettingsShared: berth-proxy is one per host. An app whose
// berth.yaml asks for another proxy.http does not silently take it away from
// the apps it serves: exit 6 naming them, until --recreate-proxy, after
// which every app is served on the new address.
func TestProxySettingsShared(t *testing.T) {
	first := newApp(t, "", "")
	testenv.AppImage(t, first.eng, "berth-testapp:v1", "VERSION=v1")
	first.mustRun("deploy")
	first.waitServing("v1", 10*time.Second)

	second := newApp(t, "", "")
	second.host = "web.test"
	second.ownProxy = false
	// Same route host in both apps would collide; give the second its own.
	write(t, filepath.Join(second.dir, "berth.yaml"), fmt.Sprintf("app: %s\nproxy: { http: 127.0.0.1:%d }\nservices:\n  web:\n    route: { host: second.test, port: 8080, health_interval: 200ms }\n", second.name, second.port))
	second.host = "second.test"
	second.expectFail(6, []string{first.name, fmt.Sprintf("127.0.0.1:%d", first.port), "--recreate-proxy"}, "deploy")
	first.waitServing("v1", time.Second) // untouched

	second.mustRun("deploy", "--recreate-proxy")
	second.waitServing("v1", 10*time.Second)
	first.port = second.port // the one proxy now listens there, for both
	first.waitServing("v1", 5*time.Second)
}
