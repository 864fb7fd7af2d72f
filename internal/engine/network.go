package engine

import (
	"context"
	"fmt"

	"net/netip"

	"github.com/moby/moby/api/types/network"
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

// NetworkSpec is a network as compose's top-level networks: declares it.
type NetworkSpec struct {
	Name       string
	Driver     string // default bridge
	DriverOpts map[string]string
	Internal   bool
	Attachable bool
	EnableIPv6 *bool
	IPAM       *IPAM
	Labels     map[string]string
}

// IPAM is a network's address management.
type IPAM struct {
	Driver  string
	Options map[string]string
	Pools   []IPAMPool
}

// IPAMPool is one subnet of a network.
type IPAMPool struct {
	Subnet, IPRange, Gateway string
	AuxAddresses             map[string]string
}

// CreateNetworkSpec creates the network unless one of that name exists; an
// existing network is left as it is, as docker compose does with one it
// created earlier.
func (c *Client) CreateNetworkSpec(ctx context.Context, n NetworkSpec) error {
	if ok, err := c.NetworkExists(ctx, n.Name); err != nil || ok {
		return err
	}
	opts := client.NetworkCreateOptions{Driver: n.Driver, Options: n.DriverOpts, Internal: n.Internal, Attachable: n.Attachable, EnableIPv6: n.EnableIPv6, Labels: n.Labels}
	if opts.Driver == "" {
		opts.Driver = "bridge"
	}
	if n.IPAM != nil {
		ipam := &network.IPAM{Driver: n.IPAM.Driver, Options: n.IPAM.Options}
		for _, p := range n.IPAM.Pools {
			cfg := network.IPAMConfig{AuxAddress: map[string]netip.Addr{}}
			var err error
			if p.Subnet != "" {
				if cfg.Subnet, err = netip.ParsePrefix(p.Subnet); err != nil {
					return fmt.Errorf("network %s: subnet %q: %w", n.Name, p.Subnet, err)
				}
			}
			if p.IPRange != "" {
				if cfg.IPRange, err = netip.ParsePrefix(p.IPRange); err != nil {
					return fmt.Errorf("network %s: ip_range %q: %w", n.Name, p.IPRange, err)
				}
			}
			if p.Gateway != "" {
				if cfg.Gateway, err = netip.ParseAddr(p.Gateway); err != nil {
					return fmt.Errorf("network %s: gateway %q: %w", n.Name, p.Gateway, err)
				}
			}
			for k, v := range p.AuxAddresses {
				a, err := netip.ParseAddr(v)
				if err != nil {
					return fmt.Errorf("network %s: aux_addresses %s %q: %w", n.Name, k, v, err)
				}
				cfg.AuxAddress[k] = a
			}
			ipam.Config = append(ipam.Config, cfg)
		}
		opts.IPAM = ipam
	}
	if _, err := c.api.NetworkCreate(ctx, n.Name, opts); err != nil && !IsConflict(err) {
		return fmt.Errorf("host %s: creating network %s: %w", c.Host(), n.Name, err)
	}
	return nil
}

// NetworkExists reports whether a network of that name (or ID) exists.
func (c *Client) NetworkExists(ctx context.Context, name string) (bool, error) {
	if _, err := c.api.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); err != nil {
		if IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("host %s: inspecting network %s: %w", c.Host(), name, err)
	}
	return true, nil
}
