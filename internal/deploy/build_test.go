package deploy

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

// buildHost is an engine that can build; the embedded Engine is nil, so
// any other call panics: building must touch nothing else.
type buildHost struct {
	Engine
	images map[string]engine.ImageInfo
	builds int
}

func (b *buildHost) Host() string { return "h1" }
func (b *buildHost) InspectImage(_ context.Context, ref string) (engine.ImageInfo, error) {
	if info, ok := b.images[ref]; ok {
		return info, nil
	}
	return engine.ImageInfo{}, notFoundErr{}
}
func (b *buildHost) BuildImage(_ context.Context, r io.Reader, o engine.BuildOptions, _ func(engine.BuildEvent)) (string, error) {
	_, _ = io.Copy(io.Discard, r)
	b.builds++
	for _, t := range o.Tags {
		b.images[t] = engine.ImageInfo{ID: "sha256:1", Labels: o.Labels}
	}
	return "sha256:1", nil
}
func (b *buildHost) TagImage(context.Context, string, string) error { return nil }
func (b *buildHost) SaveImages(context.Context, []string) (io.ReadCloser, error) {
	return nil, os.ErrInvalid
}
func (b *buildHost) LoadImage(context.Context, io.Reader) error { return os.ErrInvalid }

type recorder func(Event)

func (r recorder) Step(ev Event) { r(ev) }

type notFoundErr struct{}

func (notFoundErr) Error() string { return "no such image" }
func (notFoundErr) NotFound()     {}

// Services sharing an image name and its build (a YAML anchor) are built
// once, and --image skips the build of the service it names.
func TestBuildImagesSharedAndOverridden(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	svc := func(name string) *config.Service {
		return &config.Service{Name: name, Hosts: []string{"h1"}, Compose: types.ServiceConfig{Name: name, ContainerSpec: types.ContainerSpec{Image: "shop:1.0"},
			WorkloadSpec: types.WorkloadSpec{Build: &types.BuildConfig{Context: dir}}}}
	}
	h := &buildHost{images: map[string]engine.ImageInfo{}}
	var events []Event
	d := &Deployer{Cfg: &config.Config{App: "shop"}, Hosts: map[string]Engine{"h1": h}, Progress: recorder(func(ev Event) { events = append(events, ev) })}
	svcs := []*config.Service{svc("web"), svc("worker"), svc("cron")}
	refs, err := d.buildImages(context.Background(), svcs, Options{Images: map[string]string{"cron": "other:2"}})
	if err != nil {
		t.Fatal(err)
	}
	if h.builds != 1 || refs["web"] == "" || refs["worker"] != refs["web"] {
		t.Errorf("builds %d, refs %v; want one build that web and worker both run", h.builds, refs)
	}
	hashed := 0
	for _, ev := range events {
		if strings.HasPrefix(ev.Detail, "hashing the context") {
			hashed++
		}
		if ev.Service == "worker" && ev.Detail != "same image and build as web: "+refs["web"] {
			t.Errorf("worker: %q; want it to say it shares web's build", ev.Detail)
		}
	}
	if hashed != 1 {
		t.Errorf("the context was read %d times; want once", hashed)
	}
	if _, ok := refs["cron"]; ok {
		t.Errorf("cron was built although --image names what it runs: %v", refs)
	}
}
