package deploy

import (
	"context"
	"time"

	"github.com/berthhq/berth/internal/engine"
)

// Engine is what deploy needs from one Docker host; *engine.Client is the
// real one.
type Engine interface {
	Host() string
	CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error)
	CheckSupported(spec engine.ContainerSpec) error
	StartContainer(ctx context.Context, id string) error
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	RemoveContainer(ctx context.Context, id string, force bool) error
	DiscardContainer(ctx context.Context, id string) error
	RenameContainer(ctx context.Context, id, name string) error
	InspectContainer(ctx context.Context, idOrName string) (engine.ContainerInfo, error)
	ListContainers(ctx context.Context, labels map[string]string) ([]engine.ContainerSummary, error)
	ContainerLogs(ctx context.Context, id string, tail int) (string, error)
	Exec(ctx context.Context, id string, cmd []string) (engine.ExecResult, error)
	EnsureNetwork(ctx context.Context, name string, labels map[string]string) error
	RemoveNetwork(ctx context.Context, name string) error
	EnsureVolume(ctx context.Context, name string, labels map[string]string) error
	CreateNetworkSpec(ctx context.Context, n engine.NetworkSpec) error
	NetworkExists(ctx context.Context, name string) (bool, error)
	CreateVolumeSpec(ctx context.Context, v engine.VolumeSpec) error
	VolumeExists(ctx context.Context, name string) (bool, error)
	ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error)
	RemoveVolume(ctx context.Context, name string) error
	InspectImage(ctx context.Context, ref string) (engine.ImageInfo, error)
	ImportImage(ctx context.Context, ref string, files []engine.ImageFile, changes []string) error
	PullImage(ctx context.Context, ref string) error
}

var _ Engine = (*engine.Client)(nil)

// Progress receives one event per step per service per host.
type Progress interface {
	Step(ev Event)
}

// Event is one step of a rollout.
type Event struct {
	Host    string `json:"host"`
	Service string `json:"service,omitempty"`
	Step    string `json:"step"`
	Detail  string `json:"detail,omitempty"`
}

// NoProgress discards events.
type NoProgress struct{}

// Step discards ev.
func (NoProgress) Step(Event) {}
