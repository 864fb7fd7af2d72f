package deploy

import (
	"context"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/engine"
)

// userImageEngine answers image inspects with a configured USER; admission
// needs nothing else from a host.
type userImageEngine struct {
	Engine
	users map[string]string // image ref -> USER; absent: not on the host
}

func (e userImageEngine) Host() string { return "default" }

func (e userImageEngine) InspectImage(_ context.Context, ref string) (engine.ImageInfo, error) {
	u, ok := e.users[ref]
	if !ok {
		return engine.ImageInfo{}, &engine.UnreachableError{Host: "default"} // any error: the user stays unknown
	}
	return engine.ImageInfo{ID: "sha256:x", User: u}, nil
}

// TestAdmissionJudgesImageUser: a deploy judges the USER the image is
// configured with, read through the engine, for a service that sets no
// user: (before, every such service "ran as root"); an image not on the
// host leaves it unknown, and says so.
func TestAdmissionJudgesImageUser(t *testing.T) {
	compose := `services:
  web:
    image: shop:1.0
  worker:
    image: worker:1.0
  legacy:
    image: legacy:1.0
  new:
    image: new:1.0
`
	cfg := loadTestConfig(t, "app: shop\n", compose, map[string]string{})
	d := &Deployer{Cfg: cfg, Hosts: map[string]Engine{"default": userImageEngine{users: map[string]string{
		"shop:1.0": "10001", "worker:1.0": "app:app", "legacy:1.0": "",
	}}}}
	p, err := PolicyFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := checkPolicy(cfg, p, cfg.Services, nil, d.imageUser(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"web": "", "worker": "", "legacy": "the image sets no USER", "new": "unknown"}
	for _, r := range res {
		got := ""
		for _, f := range r.Findings {
			if f.Rule == "root-user" {
				got = f.Message
			}
		}
		switch w := want[r.Service]; {
		case w == "" && got != "":
			t.Errorf("%s: %q, want no root-user finding", r.Service, got)
		case w != "" && !strings.Contains(got, w):
			t.Errorf("%s: %q, want a finding saying %q", r.Service, got, w)
		}
	}
}
