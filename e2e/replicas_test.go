package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestReplicas: a routed service with deploy.replicas: 3 runs three
// containers that all serve; a redeploy under load moves traffic from three
// to three with no failed request; a release with an unhealthy replica is
// removed whole while the old one keeps serving; rollback brings the three
// of the kept release back; a worker with scale: 2 runs two; remove takes
// every replica away.
func TestReplicas(t *testing.T) {
	a := newApp(t, "  worker:\n    deploy: { min_ready: 1s }\n", `    deploy:
      replicas: 3
  worker:
    image: berth-testapp:v1
    command: ["worker"]
    scale: 2
`)
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:v2", "VERSION=v2")
	testenv.AppImage(t, a.eng, "berth-testapp:v3", "VERSION=v3", "FAIL_HEALTH=1")

	a.mustRun("deploy")
	a.waitServing("v1", 10*time.Second)
	v1 := replicaHosts(t, a, "web", 1, []string{"", "-r2", "-r3"})
	a.assertServedBy("v1", v1)
	assertServing(t, a, "web", 3)
	assertServing(t, a, "worker", 2)
	replicaHosts(t, a, "worker", 1, []string{"", "-r2"})

	var rels struct {
		Services []struct {
			Service  string `json:"service"`
			Replicas int    `json:"replicas"`
			Releases []struct {
				Number     int `json:"release"`
				Replicas   int `json:"replicas"`
				Containers []struct {
					Container string `json:"container"`
				} `json:"containers"`
			} `json:"releases"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(a.mustRun("releases", "--format", "json")), &rels); err != nil {
		t.Fatal(err)
	}
	for _, s := range rels.Services {
		want := map[string]int{"web": 3, "worker": 2}[s.Service]
		if s.Replicas != want || len(s.Releases) != 1 || s.Releases[0].Replicas != want || len(s.Releases[0].Containers) != want {
			t.Errorf("berth releases for %s: %+v; want one release of %d replicas", s.Service, s, want)
		}
	}
	if st := a.mustRun("status"); !strings.Contains(st, "(3 of 3 replicas)") || !strings.Contains(st, "(2 of 2 replicas)") {
		t.Errorf("berth status does not show the replica counts:\n%s", st)
	}

	load := startHey(t, a)
	time.Sleep(time.Second)

	out, errOut, code := a.run("deploy", "--image", "web=berth-testapp:v2")
	if code != 0 {
		t.Fatalf("redeploy under load: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "draining") {
		t.Errorf("the redeploy did not drain the old replicas:\n%s", errOut)
	}
	a.waitServing("v2", 10*time.Second)
	v2 := replicaHosts(t, a, "web", 2, []string{"", "-r2", "-r3"})
	a.assertServedBy("v2", v2)
	assertServing(t, a, "web", 3)
	if strings.Contains(errOut, "worker-2") {
		t.Errorf("the unchanged worker got a new release:\n%s", errOut)
	}

	out, errOut, code = a.run("deploy", "--image", "web=berth-testapp:v3")
	if code != 5 {
		t.Fatalf("deploying v3 whose replicas are unhealthy: exit %d, want 5\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "all 3 replicas of release 3 were removed") || !strings.Contains(errOut, "previous release keeps serving") {
		t.Errorf("the failed deploy does not say that every new replica went:\n%s", errOut)
	}
	if names := containerNames(t, a, "web", "3"); len(names) != 0 {
		t.Errorf("containers of the failed release 3 remain: %v", names)
	}
	a.assertServedBy("v2", v2)

	a.mustRun("rollback", "web", "--to", "1")
	a.waitServing("v1", 10*time.Second)
	a.assertServedBy("v1", v1)
	assertServing(t, a, "web", 3)
	time.Sleep(time.Second)

	ok, failed := load.stop(t)
	t.Logf("hey: %d successful requests across the deploys and the rollback, %d failures", ok, len(failed))
	if len(failed) > 0 {
		t.Errorf("hey saw failed requests:\n%s", strings.Join(failed, "\n"))
	}

	a.mustRun("remove", "--yes")
	if names := containerNames(t, a, "", ""); len(names) != 0 {
		t.Errorf("berth remove left containers of the app: %v", names)
	}
}

// replicaHosts checks that release n of service has a container per
// suffix, labelled with its replica number, and returns their hostnames
// (what the test app reports).
func replicaHosts(t *testing.T, a *app, service string, n int, suffixes []string) []string {
	t.Helper()
	var hosts []string
	for i, suffix := range suffixes {
		name := fmt.Sprintf("%s-%s-%d%s", a.name, service, n, suffix)
		out, err := exec.Command("docker", "inspect", "-f", `{{.Config.Hostname}} {{.State.Status}} {{index .Config.Labels "berth.replica"}} {{index .Config.Labels "berth.replicas"}}`, name).Output()
		if err != nil {
			t.Fatalf("replica %d of %s release %d: docker inspect %s: %v", i+1, service, n, name, err)
		}
		f := strings.Fields(string(out))
		if len(f) != 4 || f[1] != "running" || f[2] != fmt.Sprint(i+1) || f[3] != fmt.Sprint(len(suffixes)) {
			t.Errorf("%s: hostname, state, replica, replicas = %v; want running, replica %d of %d", name, f, i+1, len(suffixes))
		}
		hosts = append(hosts, f[0])
	}
	return hosts
}

// assertServedBy makes requests on fresh connections, as separate clients
// would, until every replica has answered, and fails on an answer from
// anything else.
func (a *app) assertServedBy(version string, hosts []string) {
	a.t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	seen := map[string]int{}
	for i := 0; i < 60 && len(seen) < len(hosts); i++ {
		req, _ := newReq(a, "/")
		resp, err := c.Do(req)
		if err != nil {
			a.t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var v struct{ Version, Host string }
		_ = json.Unmarshal(b, &v)
		if resp.StatusCode != 200 || v.Version != version || !slices.Contains(hosts, v.Host) {
			a.t.Fatalf("request %d: %d %s, want %s from one of %v", i, resp.StatusCode, b, version, hosts)
		}
		seen[v.Host]++
	}
	if len(seen) != len(hosts) {
		a.t.Errorf("only %d of the %d replicas of %s answered: %v", len(seen), len(hosts), version, seen)
	}
}

// containerNames lists the app's containers, of a service and release when
// given, running or not.
func containerNames(t *testing.T, a *app, service, rel string) []string {
	t.Helper()
	args := []string{"ps", "-a", "--filter", "label=berth.app=" + a.name, "--filter", "label=berth.role=app", "--format", "{{.Names}}"}
	if service != "" {
		args = append(args, "--filter", "label=berth.service="+service)
	}
	if rel != "" {
		args = append(args, "--filter", "label=berth.release="+rel)
	}
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}
