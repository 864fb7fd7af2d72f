package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/testenv"
)

// TestInit runs the real binary as a new user would, in a compose
// project's directory: init writes berth.yaml, refuses a second time
// without touching the file, and --force replaces it. It needs no engine.
func TestInit(t *testing.T) {
	berth := testenv.Berth(t)
	dir := filepath.Join(t.TempDir(), "Shop_Front")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(berth, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("running berth %v: %v", args, err)
		}
		return out.String(), errb.String(), 0
	}
	berthYAML := filepath.Join(dir, "berth.yaml")

	_, errOut, code := run("init")
	if code != 2 || !strings.Contains(errOut, "compose.yaml, compose.yml, docker-compose.yml") {
		t.Fatalf("init without a compose file: exit %d, stderr %q; want 2 and the names looked for", code, errOut)
	}
	if _, err := os.Stat(berthYAML); err == nil {
		t.Fatal("init wrote berth.yaml without a compose file")
	}

	write(t, filepath.Join(dir, "compose.yaml"), `services:
  web:
    image: ghcr.io/acme/web:1.0.0
    expose: ["8080"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8080/healthz"]
  db:
    image: postgres:16.4
    volumes: [pgdata:/var/lib/postgresql/data]
  jobs:
    image: ghcr.io/acme/web:1.0.0
    command: ["jobs"]
volumes:
  pgdata: {}
`)
	out, errOut, code := run("init")
	if code != 0 {
		t.Fatalf("init: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"wrote berth.yaml for app shop-front", "1 routed service, 1 accessory, 1 worker",
		"berth.yaml:", "route.host: placeholder"} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	first, err := os.ReadFile(berthYAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"app: shop-front", "host: web.example.com", "port: 8080", "health: /healthz", "accessory: true", "jobs: {}", "# review:"} {
		if !bytes.Contains(first, []byte(want)) {
			t.Errorf("berth.yaml lacks %q:\n%s", want, first)
		}
	}
	if out, errOut, code := run("validate"); code != 0 {
		t.Errorf("berth validate of what init wrote: exit %d\n%s%s", code, out, errOut)
	}

	const edited = "app: mine\n"
	write(t, berthYAML, edited)
	_, errOut, code = run("init")
	if code != 2 || !strings.Contains(errOut, "berth.yaml") || !strings.Contains(errOut, "--force") {
		t.Errorf("second init: exit %d, stderr %q; want 2 naming berth.yaml and --force", code, errOut)
	}
	if b, _ := os.ReadFile(berthYAML); string(b) != edited {
		t.Errorf("second init changed berth.yaml to:\n%s", b)
	}

	out, errOut, code = run("init", "--force", "--format", "json")
	if code != 0 {
		t.Fatalf("init --force: exit %d\n%s%s", code, out, errOut)
	}
	var res struct {
		File     string `json:"file"`
		Content  string `json:"content"`
		Valid    bool   `json:"valid"`
		Services []struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"services"`
		FirstLook []struct{ Kind, Text string } `json:"first_look"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--format json: %v\n%s", err, out)
	}
	now, _ := os.ReadFile(berthYAML)
	if string(now) != string(first) || res.Content != string(first) {
		t.Errorf("--force wrote:\n%s\njson content:\n%s\nwant what the first init wrote:\n%s", now, res.Content, first)
	}
	if !res.Valid || len(res.Services) != 3 || len(res.FirstLook) == 0 {
		t.Errorf("json: valid %v, %d services, %d items to look at; want valid, 3, some", res.Valid, len(res.Services), len(res.FirstLook))
	}
}

// TestInitDirectory: -C DIR and the directory of -f name the project, as
// for make -C and git -C, from wherever berth runs.
func TestInitDirectory(t *testing.T) {
	berth := testenv.Berth(t)
	root := t.TempDir()
	for _, d := range []string{"one", "two"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(root, d, "docker-compose.yml"), "services:\n  site:\n    image: nginx:1.27.3\n")
	}
	for _, args := range [][]string{{"init", "-C", "one"}, {"-f", "two/berth.yaml", "init"}} {
		cmd := exec.Command(berth, args...)
		cmd.Dir = root
		cmd.Env = []string{"HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("berth %v: %v\n%s", args, err, out)
		}
	}
	for _, d := range []string{"one", "two"} {
		b, err := os.ReadFile(filepath.Join(root, d, "berth.yaml"))
		if err != nil || !bytes.Contains(b, []byte("app: "+d+" ")) || !bytes.Contains(b, []byte("host: site.example.com")) {
			t.Errorf("%s/berth.yaml: %v\n%s", d, err, b)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "berth.yaml")); err == nil {
		t.Error("berth.yaml was written in the working directory instead of the project's")
	}
}

// TestInitShowsNoSecret: a credential interpolated from .env into a
// healthcheck and an environment variable appears nowhere in what init
// writes or prints, in text or JSON.
func TestInitShowsNoSecret(t *testing.T) {
	berth := testenv.Berth(t)
	dir := t.TempDir()
	const secret = "hunter2-Very-Secret-77"
	write(t, filepath.Join(dir, ".env"), "TOKEN="+secret+"\n")
	write(t, filepath.Join(dir, "compose.yaml"), `services:
  api:
    image: ghcr.io/acme/api:1.0.0
    environment:
      API_TOKEN: ${TOKEN}
      DATABASE_URL: postgres://shop:${TOKEN}@db/shop
    healthcheck:
      test: ["CMD-SHELL", "curl -fsS -H 'X-Token: ${TOKEN}' http://ops:${TOKEN}@localhost:8080/health?token=${TOKEN}"]
`)
	for _, args := range [][]string{{"init"}, {"init", "--force", "--format", "json"}} {
		cmd := exec.Command(berth, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("berth %v: %v\n%s", args, err, out)
		}
		if strings.Contains(string(out), secret) {
			t.Errorf("berth %v printed the secret:\n%s", args, out)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "berth.yaml"))
		if strings.Contains(string(b), secret) || !strings.Contains(string(b), "health: /health") {
			t.Errorf("berth.yaml after %v holds the secret, or no health path:\n%s", args, b)
		}
	}
}
