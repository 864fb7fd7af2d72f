package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestBuildDeploy deploys a service from build: with each of the engine's
// builders, on the local engine (no registry: the Dockerfile is FROM
// scratch plus the test app): the image is built and tagged, serves
// through the proxy, is not rebuilt when nothing changed, and a failing
// step exits 8 with the step and its output while the previous release
// keeps serving.
func TestBuildDeploy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ignore  string // .dockerignore
		builder string // the builder the deploy must report
	}{
		// The default: BuildKit through the API, no client session.
		{"buildkit", "*.md\n!KEEP.md\n", "buildkit"},
		// .dockerignore excludes the Dockerfile: it is still sent, and the
		// classic builder (which drops it from the image) is used.
		{"classic", "*.md\n!KEEP.md\nDockerfile\n", "classic"},
	} {
		t.Run(tc.name, func(t *testing.T) { testBuildDeploy(t, tc.ignore, tc.builder) })
	}
}

func testBuildDeploy(t *testing.T, ignore, builder string) {
	t.Setenv("DOCKER_BUILDKIT", "")
	a := newApp(t, "", "")
	repo := a.name + "-web"
	t.Cleanup(func() { removeImages(t, repo) })
	ctxDir := filepath.Join(a.dir, "web")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, testenv.GoBuild(t, "internal/testenv/testapp"), filepath.Join(ctxDir, "app"))
	copyFile(t, testenv.GoBuild(t, "e2e/testdata/buildfail"), filepath.Join(ctxDir, "buildfail"))
	write(t, filepath.Join(ctxDir, ".dockerignore"), ignore+"buildfail\n")
	write(t, filepath.Join(ctxDir, "notes.md"), "ignored")
	write(t, filepath.Join(ctxDir, "KEEP.md"), "kept")
	dockerfile := "FROM scratch\nCOPY . /\nARG VERSION\nENV VERSION=$VERSION\nENTRYPOINT [\"/app\"]\n"
	write(t, filepath.Join(ctxDir, "Dockerfile"), dockerfile)
	write(t, filepath.Join(a.dir, "compose.yaml"), `services:
  web:
    build:
      context: ./web
      args:
        VERSION: v1
      labels:
        team: e2e
`)

	out, errOut, code := a.run("deploy")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	a.waitServing("v1", 10*time.Second)
	if !strings.Contains(errOut, "with the "+builder+" builder") {
		t.Errorf("the deploy did not build with the %s builder:\n%s", builder, errOut)
	}
	// .dockerignore: ignored files are not in the image, negations are.
	if code := status(t, a, "/file?path=/notes.md"); code != http.StatusNotFound {
		t.Errorf("/notes.md (ignored) in the image: status %d", code)
	}
	if got := body(t, a, "/file?path=/KEEP.md"); got != "kept" {
		t.Errorf("/KEEP.md (taken back by !KEEP.md) in the image: %q", got)
	}
	if builder == "classic" {
		if code := status(t, a, "/file?path=/Dockerfile"); code != http.StatusNotFound {
			t.Errorf("the Dockerfile .dockerignore excludes is in the image: status %d", code)
		}
	}
	// Tags and labels: <app>-web and <app>-web:<revision>, the container
	// runs the revision, the OCI labels are set.
	image := inspect(t, "container", a.name+"-web-1", "{{.Config.Image}}")
	rev := inspect(t, "image", repo, `{{index .Config.Labels "org.opencontainers.image.revision"}}`)
	if rev == "" || image != repo+":"+rev {
		t.Errorf("release runs %q, image revision label %q; want %s:<revision>", image, rev, repo)
	}
	created := inspect(t, "image", repo, `{{index .Config.Labels "org.opencontainers.image.created"}}`)
	if _, err := time.Parse(time.RFC3339, created); err != nil {
		t.Errorf("org.opencontainers.image.created = %q: %v", created, err)
	}
	if team := inspect(t, "image", repo, `{{index .Config.Labels "team"}}`); team != "e2e" {
		t.Errorf("build label team = %q", team)
	}
	imageID := inspect(t, "image", repo, "{{.Id}}")

	// Nothing changed: no rebuild, no new release.
	out, errOut, code = a.run("deploy")
	if code != 0 {
		t.Fatalf("second deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "not rebuilt") || strings.Contains(errOut, "building ") {
		t.Errorf("the unchanged context was rebuilt:\n%s", errOut)
	}
	if !strings.Contains(out, "unchanged") {
		t.Errorf("the second deploy did not leave the release unchanged:\n%s", out)
	}
	if id := inspect(t, "image", repo, "{{.Id}}"); id != imageID {
		t.Errorf("the image changed from %s to %s without a change", imageID, id)
	}

	// A failing step: exit 8, the step and its output, nothing deployed.
	write(t, filepath.Join(ctxDir, ".dockerignore"), ignore)
	write(t, filepath.Join(ctxDir, "Dockerfile"), dockerfile+"RUN [\"/buildfail\"]\n")
	out, errOut, code = a.run("deploy")
	if code != 8 {
		t.Fatalf("failing build: exit %d, want 8\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"compose.yaml:2:3: service web: build failed", `RUN ["/buildfail"]`, "error: asset pipeline exploded (on purpose)", "compiling assets", "nothing was deployed on any host"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the failed build's message lacks %q:\n%s", want, errOut)
		}
	}
	a.waitServing("v1", 2*time.Second)
	if err := exec.Command("docker", "inspect", a.name+"-web-2").Run(); err == nil {
		t.Errorf("a failed build created release 2")
	}

	// --no-build deploys what is there, without reading the broken build.
	out, errOut, code = a.run("deploy", "--no-build")
	if code != 0 || strings.Contains(errOut, "building ") || !strings.Contains(out, "unchanged") {
		t.Errorf("deploy --no-build: exit %d; want the built image deployed unchanged, nothing built\n%s\n%s", code, out, errOut)
	}
}

func status(t *testing.T, a *app, path string) int {
	t.Helper()
	req, _ := newReq(a, path)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func inspect(t *testing.T, kind, name, format string) string {
	t.Helper()
	out, err := exec.Command("docker", kind, "inspect", "-f", format, name).Output()
	if err != nil {
		t.Fatalf("docker %s inspect %s: %v", kind, name, err)
	}
	return strings.TrimSpace(string(out))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// removeImages removes every tag of repo the test built.
func removeImages(t *testing.T, repo string) {
	out, _ := exec.Command("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo).Output()
	for _, ref := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "image", "rm", "-f", ref).Run()
	}
}

// TestBuildMultiHost deploys a built worker to two engines: the image is
// built on the first host only and copied to the second through the
// Engine API (save, load); a second deploy neither builds nor copies.
func TestBuildMultiHost(t *testing.T) {
	engines := testenv.StartEngines(t, 2, testenv.ExtraEngineOptions{})
	dir := t.TempDir()
	ctxDir := filepath.Join(dir, "w")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, testenv.GoBuild(t, "internal/testenv/testapp"), filepath.Join(ctxDir, "app"))
	write(t, filepath.Join(ctxDir, "Dockerfile"), "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\", \"worker\"]\n")
	write(t, filepath.Join(dir, "compose.yaml"), "services:\n  w:\n    build: ./w\n")
	write(t, filepath.Join(dir, "berth.yaml"), "app: multibuild\nhosts:\n  a: "+engines[0].Host+"\n  b: "+engines[1].Host+"\nservices:\n  w:\n    deploy: { min_ready: 1s }\n")

	out, code := berthIn(t, dir, "deploy")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	var built, copied []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[3] != "build" {
			continue
		}
		switch f[4] {
		case "building":
			built = append(built, f[1])
		case "copying":
			copied = append(copied, f[1])
		}
	}
	if strings.Join(built, ",") != "a" || strings.Join(copied, ",") != "b" {
		t.Errorf("built on %v, copied to %v; want built on a only and copied to b\n%s", built, copied, out)
	}
	ctx := context.Background()
	var ids []string
	for _, e := range engines {
		id, err := e.Docker(ctx, "image", "inspect", "-f", "{{.Id}}", "multibuild-w")
		if err != nil {
			t.Fatalf("%s: %v %s", e.Name, err, id)
		}
		ids = append(ids, strings.TrimSpace(id))
		if state, err := e.Docker(ctx, "inspect", "-f", "{{.State.Running}}", "multibuild-w-1"); err != nil || strings.TrimSpace(state) != "true" {
			t.Errorf("%s: the worker is not running: %v %s", e.Name, err, state)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("the hosts run different images: %v", ids)
	}

	out, code = berthIn(t, dir, "deploy")
	if code != 0 {
		t.Fatalf("second deploy: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "not rebuilt") || strings.Contains(out, "building ") || strings.Contains(out, "copying ") {
		t.Errorf("the second deploy built or copied again:\n%s", out)
	}
}

// TestBuildContextRefused: a context with a symlink leaving it is refused
// with the link's path and the fix, exit 8, before anything is created;
// so is --no-build when nothing was built.
func TestBuildContextRefused(t *testing.T) {
	a := newApp(t, "", "")
	ctxDir := filepath.Join(a.dir, "web")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(ctxDir, "Dockerfile"), "FROM scratch\nCOPY . /\n")
	if err := os.Symlink("../../../etc", filepath.Join(ctxDir, "conf")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(a.dir, "compose.yaml"), "services:\n  web:\n    build: ./web\n")
	out, errOut, code := a.run("deploy")
	if code != 8 {
		t.Fatalf("exit %d, want 8\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"compose.yaml:2:3: service web: build context: " + filepath.Join(ctxDir, "conf") + ": symlink to ../../../etc leaves the build context", "(fix: ", "nothing was deployed on any host"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("message lacks %q:\n%s", want, errOut)
		}
	}
	if ps, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.app="+a.name).Output(); len(strings.TrimSpace(string(ps))) > 0 {
		t.Errorf("containers were created for a refused context: %s", ps)
	}

	// --no-build with nothing built names the service, the image and the fix.
	out, errOut, code = a.run("deploy", "--no-build")
	if code != 8 || !strings.Contains(errOut, "service web") || !strings.Contains(errOut, a.name+"-web is not on the host") || !strings.Contains(errOut, "without --no-build") {
		t.Errorf("deploy --no-build without an image: exit %d, want 8 naming the service, the image and the fix\n%s\n%s", code, out, errOut)
	}
}
