package audit

import (
	"context"
	"sort"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/policy"
)

// Engine is what the container audit needs from a host.
type Engine interface {
	Host() string
	ListContainers(ctx context.Context, labels map[string]string) ([]engine.ContainerSummary, error)
	InspectContainerJSON(ctx context.Context, idOrName string) ([]byte, error)
}

// ContainerReport is one container's findings.
type ContainerReport struct {
	Host      string           `json:"host"`
	Container string           `json:"container"`
	Image     string           `json:"image"`
	State     string           `json:"state"`
	App       string           `json:"app,omitempty"` // berth.app, when berth manages it
	Findings  []policy.Finding `json:"findings"`
}

// Containers audits every container on every host, hosts in name order and
// containers by name.
func Containers(ctx context.Context, hosts []Engine, p policy.Policy) ([]ContainerReport, error) {
	var out []ContainerReport
	for _, eng := range hosts {
		cs, err := eng.ListContainers(ctx, nil)
		if err != nil {
			return nil, err
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
		for _, c := range cs {
			raw, err := eng.InspectContainerJSON(ctx, c.ID)
			if engine.IsNotFound(err) {
				continue // removed while we looked
			}
			if err != nil {
				return nil, err
			}
			spec, err := policy.FromInspect(raw, c.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, ContainerReport{Host: eng.Host(), Container: c.Name, Image: c.Image, State: c.State,
				App: spec.Labels["berth.app"], Findings: p.Evaluate(&spec)})
		}
	}
	return out, nil
}
