package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

func TestImageNames(t *testing.T) {
	for _, tc := range []struct {
		app, svc, image, rev string
		name, ref            string
	}{
		{"shop", "web", "", "0123456789ab", "shop-web", "shop-web:0123456789ab"},
		{"shop", "web", "shop/web:1.2", "0123456789ab-dirty", "shop/web:1.2", "shop/web:0123456789ab-dirty"},
		{"shop", "web", "registry:5000/team/web", "abc", "registry:5000/team/web", "registry:5000/team/web:abc"},
		{"shop", "web", "registry:5000/team/web:v1", "abc", "registry:5000/team/web:v1", "registry:5000/team/web:abc"},
	} {
		name := ImageName(tc.app, tc.svc, tc.image)
		if ref := RevisionTag(name, tc.rev); name != tc.name || ref != tc.ref {
			t.Errorf("ImageName(%q, %q, %q) = %q, RevisionTag = %q; want %q, %q", tc.app, tc.svc, tc.image, name, ref, tc.name, tc.ref)
		}
	}
}

func TestRevision(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	if got := Revision(ctx, outside, "feedfacecafe0123"); got != "feedfacecafe" {
		t.Errorf("outside git: %q; want the context hash's first 12 hex", got)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	git("add", ".")
	git("commit", "-q", "-m", "one")
	head := git("rev-parse", "HEAD")
	if got := Revision(ctx, repo, "x"); got != head[:12] {
		t.Errorf("clean tree: %q; want %q", got, head[:12])
	}
	os.WriteFile(filepath.Join(repo, "new.txt"), []byte("x"), 0o644)
	if got := Revision(ctx, repo, "x"); got != head[:12]+"-dirty" {
		t.Errorf("dirty tree: %q; want %q", got, head[:12]+"-dirty")
	}
}

// fakeEngine is an engine whose images are a map; builds succeed unless
// failWith is set.
type fakeEngine struct {
	host     string
	images   map[string]engine.ImageInfo // ref -> image
	builds   []engine.BuildOptions
	loads    int
	failWith error
	noKit    bool
}

func newFake(host string) *fakeEngine {
	return &fakeEngine{host: host, images: map[string]engine.ImageInfo{}}
}

func (f *fakeEngine) Host() string { return f.host }
func (f *fakeEngine) InspectImage(_ context.Context, ref string) (engine.ImageInfo, error) {
	if info, ok := f.images[ref]; ok {
		return info, nil
	}
	return engine.ImageInfo{}, notFound{}
}
func (f *fakeEngine) BuildImage(_ context.Context, r io.Reader, o engine.BuildOptions, on func(engine.BuildEvent)) (string, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", err
	}
	if f.noKit && o.Builder == engine.BuilderKit {
		return "", fmt.Errorf("x: %w", engine.ErrBuilderUnavailable)
	}
	f.builds = append(f.builds, o)
	if f.failWith != nil {
		return "", f.failWith
	}
	on(engine.BuildEvent{Step: "[1/1] COPY a.txt /"})
	id := fmt.Sprintf("sha256:%d", len(f.builds))
	for _, tag := range o.Tags {
		f.images[tag] = engine.ImageInfo{ID: id, Labels: o.Labels}
	}
	return id, nil
}
func (f *fakeEngine) TagImage(_ context.Context, source, target string) error {
	for _, info := range f.images {
		if info.ID == source {
			f.images[target] = info
			return nil
		}
	}
	return notFound{}
}
func (f *fakeEngine) SaveImages(_ context.Context, refs []string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(strings.Join(refs, ","))), nil
}

// saved is set by the test: which engine LoadImage copies from.
var saved *fakeEngine

func (f *fakeEngine) LoadImage(_ context.Context, r io.Reader) error {
	b, _ := io.ReadAll(r)
	for _, ref := range strings.Split(string(b), ",") {
		f.images[ref] = saved.images[ref]
	}
	f.loads++
	return nil
}

type notFound struct{}

func (notFound) Error() string { return "not found" }
func (notFound) NotFound()     {}

func service(t *testing.T, dir string) *config.Service {
	return &config.Service{Name: "web", Source: config.Position{File: "/p/compose.yaml", Line: 3, Column: 3},
		Compose: types.ServiceConfig{Name: "web", WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: dir, Args: types.MappingWithEquals{}}}}}
}

func TestServiceBuildsOnceAndCopies(t *testing.T) {
	dir := tree(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY a.txt /\n", "a.txt": "a"})
	h1, h2, h3 := newFake("h1"), newFake("h2"), newFake("h3")
	saved = h1
	var lines bytes.Buffer
	req := Request{App: "shop", Service: service(t, dir), Hosts: []Engine{h1, h2, h3},
		Progress: func(host, step, detail string) { fmt.Fprintf(&lines, "%s %s %s\n", host, step, detail) },
		Env:      func(string) string { return "" }, Now: func() time.Time { return time.Unix(0, 0) }}
	res, err := Service(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Built || len(h1.builds) != 1 || len(h2.builds)+len(h3.builds) != 0 || h2.loads != 1 || h3.loads != 1 {
		t.Fatalf("built %v, builds %d/%d/%d, loads %d/%d; want one build on h1 and one copy to each other host", res.Built, len(h1.builds), len(h2.builds), len(h3.builds), h2.loads, h3.loads)
	}
	o := h1.builds[0]
	if o.Builder != engine.BuilderKit || o.Tags[0] != "shop-web" || !strings.HasPrefix(o.Tags[1], "shop-web:") || res.Ref != o.Tags[1] {
		t.Errorf("builder %s tags %v ref %s; want BuildKit, shop-web and shop-web:<revision>", o.Builder, o.Tags, res.Ref)
	}
	if o.Labels[LabelCreated] != "1970-01-01T00:00:00Z" || o.Labels[LabelRevision] == "" || o.Labels[LabelHash] == "" {
		t.Errorf("labels %v; want the OCI revision and created labels and the build hash", o.Labels)
	}
	if !strings.Contains(lines.String(), "h1 build [1/1] COPY a.txt /") || !strings.Contains(lines.String(), "h2 build copying") {
		t.Errorf("progress does not show the step and the copy:\n%s", lines.String())
	}

	// Nothing changed: no build, no copy.
	res2, err := Service(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Built || len(h1.builds) != 1 || h2.loads != 1 || res2.Ref != res.Ref {
		t.Errorf("second deploy: built %v, builds %d, loads %d, ref %s; want nothing rebuilt or copied and ref %s", res2.Built, len(h1.builds), h2.loads, res2.Ref, res.Ref)
	}
	// A changed build arg is a change.
	v := "2"
	req.Service.Compose.Build.Args["V"] = &v
	if res3, err := Service(context.Background(), req); err != nil || !res3.Built {
		t.Errorf("changed arg: built %v err %v; want a rebuild", res3.Built, err)
	}
}

func TestServiceFallsBackToClassic(t *testing.T) {
	dir := tree(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	h1 := newFake("h1")
	h1.noKit = true
	_, err := Service(context.Background(), Request{App: "shop", Service: service(t, dir), Hosts: []Engine{h1}, Env: func(string) string { return "" }})
	if err != nil || len(h1.builds) != 1 || h1.builds[0].Builder != engine.BuilderClassic {
		t.Errorf("err %v builds %+v; want one classic build", err, h1.builds)
	}
}

func TestServiceBuildFails(t *testing.T) {
	dir := tree(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	h1, h2 := newFake("h1"), newFake("h2")
	h1.failWith = &engine.BuildFailedError{Host: "h1", Step: `[2/2] RUN ["/buildfail"]`, Msg: "exit code: 3", Output: []string{"compiling assets", "error: boom"}}
	_, err := Service(context.Background(), Request{App: "shop", Service: service(t, dir), Hosts: []Engine{h1, h2}, Env: func(string) string { return "" }})
	var be *Error
	if !errors.As(err, &be) {
		t.Fatalf("want a build Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"/p/compose.yaml:3:3: service web: build failed on host h1 at step [2/2] RUN [\"/buildfail\"]: exit code: 3", "  | error: boom", "(fix: ", "nothing was deployed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if h2.loads != 0 {
		t.Error("a failed build was copied to another host")
	}
}

func TestServiceNoBuild(t *testing.T) {
	h1 := newFake("h1")
	svc := service(t, "/nonexistent")
	_, err := Service(context.Background(), Request{App: "shop", Service: svc, Hosts: []Engine{h1}, NoBuild: true})
	if err == nil || !strings.Contains(err.Error(), "service web") || !strings.Contains(err.Error(), "shop-web is not on the host") || !strings.Contains(err.Error(), "without --no-build") {
		t.Errorf("--no-build without an image: %v; want the service, the image and the fix", err)
	}
	h1.images["shop-web"] = engine.ImageInfo{ID: "sha256:1", Labels: map[string]string{LabelRevision: "abc"}}
	res, err := Service(context.Background(), Request{App: "shop", Service: svc, Hosts: []Engine{h1}, NoBuild: true})
	if err != nil || res.Built || res.Ref != "shop-web:abc" || h1.images["shop-web:abc"].ID != "sha256:1" || len(h1.builds) != 0 {
		t.Errorf("--no-build: %+v, %v; want shop-web:abc, tagged back, nothing built", res, err)
	}
}
