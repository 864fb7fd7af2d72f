package deploy

import (
	"context"

	"github.com/berthhq/berth/internal/engine"
)

// The Engine methods compose networks, volumes and API checks need, for the
// in-memory host of replicas_test.go: every network and volume exists and
// every setting is supported, so those tests see only what they test.

func (f *fakeHost) CheckSupported(engine.ContainerSpec) error                   { return nil }
func (f *fakeHost) CreateNetworkSpec(context.Context, engine.NetworkSpec) error { return nil }
func (f *fakeHost) NetworkExists(context.Context, string) (bool, error)         { return true, nil }
func (f *fakeHost) CreateVolumeSpec(context.Context, engine.VolumeSpec) error   { return nil }
func (f *fakeHost) VolumeExists(context.Context, string) (bool, error)          { return true, nil }
