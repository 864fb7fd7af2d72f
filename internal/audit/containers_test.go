package audit

import (
	"context"
	"slices"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/policy"
)

type fakeHost struct {
	name string
	docs map[string]string // container name -> inspect JSON
}

func (f fakeHost) Host() string { return f.name }

func (f fakeHost) ListContainers(context.Context, map[string]string) ([]engine.ContainerSummary, error) {
	var out []engine.ContainerSummary
	for name := range f.docs {
		out = append(out, engine.ContainerSummary{ID: name, Name: name, State: "running"})
	}
	out = append(out, engine.ContainerSummary{ID: "gone", Name: "gone"}) // removed while the audit runs
	return out, nil
}

func (f fakeHost) InspectContainerJSON(_ context.Context, id string) ([]byte, error) {
	doc, ok := f.docs[id]
	if !ok {
		return nil, cerrdefs.ErrNotFound.WithMessage("no such container")
	}
	return []byte(doc), nil
}

func TestContainers(t *testing.T) {
	h := fakeHost{name: "h1", docs: map[string]string{
		"hand-made": `{"Name":"/hand-made","Config":{"Image":"nginx:latest","User":""},"HostConfig":{"Privileged":true,"Binds":["/:/host"]}}`,
		"shop-web-3": `{"Name":"/shop-web-3","Config":{"Image":"shop:1.2","User":"10001","Labels":{"berth.app":"shop","berth.service":"web"}},
			"HostConfig":{"CapDrop":["ALL"],"SecurityOpt":["no-new-privileges"],"ReadonlyRootfs":true,"Memory":1,"NanoCpus":1,"PidsLimit":10}}`,
	}}
	reports, err := Containers(context.Background(), []Engine{h}, policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].Container != "hand-made" || reports[1].Container != "shop-web-3" {
		t.Fatalf("reports %+v", reports)
	}
	var blocking []string
	for _, f := range policy.Blocking(reports[0].Findings) {
		blocking = append(blocking, f.Rule)
	}
	if !slices.Contains(blocking, "privileged") || !slices.Contains(blocking, "sensitive-mount") {
		t.Errorf("a hand-made privileged container with / mounted: blocking %v", blocking)
	}
	if n := len(policy.Blocking(reports[1].Findings)); n != 0 {
		t.Errorf("a locked-down berth container has %d blocking findings: %+v", n, reports[1].Findings)
	}
	if reports[1].App != "shop" {
		t.Errorf("berth's container not recognised: %+v", reports[1])
	}
}
