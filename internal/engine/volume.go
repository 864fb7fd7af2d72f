package engine

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// Volume is a named volume.
type Volume struct {
	Name   string
	Labels map[string]string
}

// EnsureVolume creates a named volume with labels unless it exists. An
// existing volume is left exactly as it is: its data is the user's.
func (c *Client) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	if _, err := c.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); err == nil {
		return nil
	} else if !IsNotFound(err) {
		return fmt.Errorf("host %s: inspecting volume %s: %w", c.Host(), name, err)
	}
	if _, err := c.api.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: labels}); err != nil {
		return fmt.Errorf("host %s: creating volume %s: %w", c.Host(), name, err)
	}
	return nil
}

// ListVolumes lists the volumes carrying every given label.
func (c *Client) ListVolumes(ctx context.Context, labels map[string]string) ([]Volume, error) {
	f := make(client.Filters)
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	res, err := c.api.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("host %s: listing volumes: %w", c.Host(), err)
	}
	out := make([]Volume, 0, len(res.Items))
	for _, v := range res.Items {
		out = append(out, Volume{Name: v.Name, Labels: v.Labels})
	}
	return out, nil
}

// RemoveVolume deletes a named volume and its data.
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	if _, err := c.api.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("host %s: removing volume %s: %w", c.Host(), name, err)
	}
	return nil
}

// VolumeSpec is a named volume as compose's top-level volumes: declares it.
type VolumeSpec struct {
	Name       string
	Driver     string // default local
	DriverOpts map[string]string
	Labels     map[string]string
}

// CreateVolumeSpec creates the volume unless it exists. An existing volume
// is left exactly as it is: its data is the user's.
func (c *Client) CreateVolumeSpec(ctx context.Context, v VolumeSpec) error {
	if ok, err := c.VolumeExists(ctx, v.Name); err != nil || ok {
		return err
	}
	if _, err := c.api.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Driver: v.Driver, DriverOpts: v.DriverOpts, Labels: v.Labels}); err != nil {
		return fmt.Errorf("host %s: creating volume %s: %w", c.Host(), v.Name, err)
	}
	return nil
}

// VolumeExists reports whether a volume of that name exists.
func (c *Client) VolumeExists(ctx context.Context, name string) (bool, error) {
	if _, err := c.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); err != nil {
		if IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("host %s: inspecting volume %s: %w", c.Host(), name, err)
	}
	return true, nil
}
