package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestWorkerAccessorySecretsVolumes deploys a web service with an env_file
// and a file secret, a worker without a route, and a database accessory with
// a named volume, then redeploys with changed settings: the web service and
// the worker get new releases, the accessory is never replaced, the volume
// survives `berth remove` without --volumes, and the secret's value never
// shows in berth's output or in labels.
func TestWorkerAccessorySecretsVolumes(t *testing.T) {
	const secret = "s3cr3t-value-7f1c"
	extraBerth := `  db:
    accessory: true
    deploy: { min_ready: 1s }
  worker:
    deploy: { min_ready: 1s }
`
	extraCompose := `    env_file: [web.env]
    secrets: [api_token]
    depends_on: [db]
  worker:
    image: berth-testapp:v1
    command: ["worker"]
    environment:
      MODE: ${MODE:-one}
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 300ms
  db:
    image: berth-testapp:v1
    environment:
      VERSION: db
    volumes:
      - data:/data
volumes:
  data: {}
secrets:
  api_token:
    file: ./token.txt
`
	a := newApp(t, extraBerth, extraCompose)
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	write(t, filepath.Join(a.dir, "web.env"), "GREETING=hello-from-env-file\n")
	write(t, filepath.Join(a.dir, "token.txt"), secret)

	out, errOut, code := a.run("deploy", "--format", "json")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	a.waitServing("v1", 10*time.Second)
	if got := body(t, a, "/env?k=GREETING"); got != "hello-from-env-file" {
		t.Errorf("env_file value in the container: %q", got)
	}
	if got := body(t, a, "/file?path=/run/secrets/api_token"); got != secret {
		t.Errorf("secret file in the container: %q", got)
	}
	// depends_on: db was created before web.
	if i, j := strings.Index(errOut, a.name+"-db"), strings.Index(errOut, a.name+"-web-1"); i < 0 || j < 0 || i > j {
		t.Errorf("db should be created before web (depends_on):\n%s", errOut)
	}
	dbID := containerID(t, a.name+"-db")
	assertServing(t, a, "worker", 1)
	if !strings.Contains(errOut, "worker") {
		t.Errorf("no progress line for the worker:\n%s", errOut)
	}
	health, _ := exec.Command("docker", "inspect", "-f", "{{.State.Health.Status}}", a.name+"-worker-1").Output()
	if strings.TrimSpace(string(health)) != "healthy" {
		t.Errorf("the worker was promoted before its HEALTHCHECK passed: %s", health)
	}

	// Change everything: web's env, the worker's env, the db's env.
	write(t, filepath.Join(a.dir, "web.env"), "GREETING=changed\n")
	compose, _ := os.ReadFile(filepath.Join(a.dir, "compose.yaml"))
	write(t, filepath.Join(a.dir, "compose.yaml"), strings.Replace(string(compose), "VERSION: db", "VERSION: db2", 1))
	cmd := exec.Command(a.berth, "deploy")
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "MODE=two")
	combined, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("second deploy: %v\n%s", err, combined)
	}
	if got := body(t, a, "/env?k=GREETING"); got != "changed" {
		t.Errorf("after redeploy GREETING = %q", got)
	}
	if id := containerID(t, a.name+"-db"); id != dbID {
		t.Errorf("the accessory db was replaced by a plain deploy")
	}
	if !strings.Contains(string(combined), "accessories are never replaced") {
		t.Errorf("the deploy did not say that db's changed config was not applied:\n%s", combined)
	}
	if !strings.Contains(string(combined), "worker") || !strings.Contains(string(combined), a.name+"-worker-2") {
		t.Errorf("the worker was not redeployed:\n%s", combined)
	}
	assertServing(t, a, "worker", 1)

	// The secret's value is nowhere in what berth prints or labels.
	status := a.mustRun("status", "--format", "json")
	labels, _ := exec.Command("docker", "ps", "-a", "--filter", "label=berth.app="+a.name, "--format", "{{.Labels}}").Output()
	for what, text := range map[string]string{"deploy output": out + errOut + string(combined), "status": status, "labels": string(labels)} {
		if strings.Contains(text, secret) {
			t.Errorf("the secret value appears in %s", what)
		}
	}

	// remove without --volumes keeps the data.
	a.mustRun("remove", "--yes")
	if err := exec.Command("docker", "volume", "inspect", a.name+"_data").Run(); err != nil {
		t.Errorf("berth remove without --volumes deleted the named volume %s_data", a.name)
	}
	vl, _ := exec.Command("docker", "volume", "inspect", "-f", "{{json .Labels}}", a.name+"_data").Output()
	if !strings.Contains(string(vl), `"berth.app":"`+a.name+`"`) {
		t.Errorf("volume not labelled as the app's: %s", vl)
	}
}

func body(t *testing.T, a *app, path string) string {
	t.Helper()
	req, _ := newReq(a, path)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func containerID(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.Id}}", name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// TestRemoveAsksFirst: taking an app down shows what goes and needs a
// confirmation; with --volumes the app's name must be typed. A wrong answer
// changes nothing.
func TestRemoveAsksFirst(t *testing.T) {
	a := newApp(t, "", `    volumes: [data:/data]
volumes:
  data: {}
`)
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	a.mustRun("deploy")
	a.waitServing("v1", 10*time.Second)

	cmd := exec.Command(a.berth, "remove", "--volumes")
	cmd.Dir = a.dir
	cmd.Stdin = strings.NewReader("yes\n") // not the app's name
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("remove --volumes answered wrongly: %v\n%s", err, out)
	}
	for _, want := range []string{"remove container  " + a.name + "-web-1", "DELETE volume     " + a.name + "_data", "not confirmed; nothing was removed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("remove's plan lacks %q:\n%s", want, out)
		}
	}
	a.waitServing("v1", time.Second)

	cmd = exec.Command(a.berth, "remove", "--volumes")
	cmd.Dir = a.dir
	cmd.Stdin = strings.NewReader(a.name + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("confirmed remove: %v\n%s", err, out)
	}
	if err := exec.Command("docker", "volume", "inspect", a.name+"_data").Run(); err == nil {
		t.Errorf("remove --volumes, confirmed, kept the volume")
	}
	if code, _, _ := a.get("/"); code != 404 && code != 0 {
		t.Errorf("after remove the route still answers %d", code)
	}
}
