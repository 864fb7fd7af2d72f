package engine

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
)

// EnsureNetwork creates a bridge network unless one of that name exists.
func (c *Client) EnsureNetwork(ctx context.Context, name string, labels map[string]string) error {
	if _, err := c.api.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err == nil {
		return nil
	} else if !IsNotFound(err) {
		return fmt.Errorf("host %s: inspecting network %s: %w", c.Host(), name, err)
	}
	_, err := c.api.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
	if err != nil && !IsConflict(err) {
		return fmt.Errorf("host %s: creating network %s: %w", c.Host(), name, err)
	}
	return nil
}

// RemoveNetwork removes a network; a missing one is not an error.
func (c *Client) RemoveNetwork(ctx context.Context, name string) error {
	if _, err := c.api.NetworkRemove(ctx, name, client.NetworkRemoveOptions{}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("host %s: removing network %s: %w", c.Host(), name, err)
	}
	return nil
}
