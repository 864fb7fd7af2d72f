package deploy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// LabelNetwork names the compose network key a berth-created network was
// declared as, like release.LabelVolume for volumes.
const LabelNetwork = "berth.network"

// composeNetworks are the networks services join that berth creates (the
// app network aside, which prepareHost makes) and those that must already
// exist (external: true), by engine name, for the services on host.
func composeNetworks(cfg *config.Config, svcs []*config.Service, host string) (create []engine.NetworkSpec, external []string) {
	seen := map[string]bool{AppNetwork(cfg.App): true}
	for _, svc := range svcs {
		if !onHost(svc.Hosts, host) || svc.Compose.NetworkMode != "" {
			continue
		}
		for _, key := range sortedNames(svc.Compose.Networks) {
			name := NetworkName(cfg, key)
			if seen[name] {
				continue
			}
			seen[name] = true
			n := cfg.Project.Networks[key]
			if n.External {
				external = append(external, name)
				continue
			}
			create = append(create, networkSpec(cfg, key, name, n))
		}
	}
	return create, external
}

func networkSpec(cfg *config.Config, key, name string, n types.NetworkConfig) engine.NetworkSpec {
	labels := map[string]string{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	labels[release.LabelManaged], labels[release.LabelApp], labels[LabelNetwork] = "true", cfg.App, key
	ns := engine.NetworkSpec{Name: name, Driver: n.Driver, DriverOpts: n.DriverOpts, Internal: n.Internal, Attachable: n.Attachable, EnableIPv6: n.EnableIPv6, Labels: labels}
	if ip := n.Ipam; ip.Driver != "" || len(ip.Config) > 0 || len(ip.Options) > 0 {
		ns.IPAM = &engine.IPAM{Driver: ip.Driver, Options: ip.Options}
		for _, p := range ip.Config {
			if p == nil {
				continue
			}
			ns.IPAM.Pools = append(ns.IPAM.Pools, engine.IPAMPool{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway, AuxAddresses: p.AuxiliaryAddresses})
		}
	}
	return ns
}

// externalVolumes are the external: true volumes the services on host
// mount, by engine name.
func externalVolumes(cfg *config.Config, svcs []*config.Service, host string) []string {
	seen := map[string]bool{}
	var out []string
	for _, svc := range svcs {
		if !onHost(svc.Hosts, host) {
			continue
		}
		for _, v := range svc.Compose.Volumes {
			vol, ok := cfg.Project.Volumes[v.Source]
			if v.Type != types.VolumeTypeVolume || !ok || !bool(vol.External) {
				continue
			}
			if name := volumeName(cfg, v.Source, vol); !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// MissingExternalError lists the external networks and volumes a deploy
// needs and a host lacks. Nothing was changed on any host.
type MissingExternalError struct {
	Missing []string // "host web-1: network shared-net (fix: ...)"
}

func (e *MissingExternalError) Error() string {
	return "objects declared external: true are missing; nothing was changed on any host:\n  " + strings.Join(e.Missing, "\n  ")
}

// checkExternal makes sure every external network and volume the services
// need exists on every host they run on, before anything changes: berth
// never creates them, and finding one missing half way through a rollout
// would leave the app half deployed.
func (d *Deployer) checkExternal(ctx context.Context, svcs []*config.Service) error {
	var missing []string
	for _, h := range d.Cfg.Hosts {
		eng, ok := d.Hosts[h.Name]
		if !ok {
			continue
		}
		_, nets := composeNetworks(d.Cfg, svcs, h.Name)
		for _, n := range nets {
			found, err := eng.NetworkExists(ctx, n)
			if err != nil {
				return err
			}
			if !found {
				missing = append(missing, fmt.Sprintf("host %s: network %s (fix: create it with `docker network create %s`, or drop external: true to let berth create it)", h.Name, n, n))
			}
		}
		for _, v := range externalVolumes(d.Cfg, svcs, h.Name) {
			found, err := eng.VolumeExists(ctx, v)
			if err != nil {
				return err
			}
			if !found {
				missing = append(missing, fmt.Sprintf("host %s: volume %s (fix: create it with `docker volume create %s`, or drop external: true to let berth create it)", h.Name, v, v))
			}
		}
	}
	if len(missing) > 0 {
		return &MissingExternalError{Missing: missing}
	}
	return nil
}

// ensureNetworks creates the compose networks the app's services on the
// host join, labelled as the app's. Existing networks are used as they are.
func (d *Deployer) ensureNetworks(ctx context.Context, eng Engine) error {
	create, _ := composeNetworks(d.Cfg, d.Cfg.Services, eng.Host())
	for _, n := range create {
		if err := eng.CreateNetworkSpec(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// appNetworks are the networks berth created for the app on a host, for
// `berth remove`: the app network and the declared, non-external ones.
func appNetworks(cfg *config.Config, host string) []string {
	create, _ := composeNetworks(cfg, cfg.Services, host)
	out := []string{AppNetwork(cfg.App)}
	for _, n := range create {
		out = append(out, n.Name)
	}
	return out
}

// checkSupported refuses, before anything changes, a deploy whose services
// ask a host for settings its Engine API is too old for (mac_address
// before 1.44, a volume subpath before 1.45).
func (d *Deployer) checkSupported(svcs []*config.Service, images map[string]string) error {
	for _, svc := range svcs {
		image := svc.Compose.Image
		if ref, ok := images[svc.Name]; ok {
			image = ref
		}
		spec, err := containerSpec(d.Cfg, svc, image, "", 0, "")
		if err != nil {
			return err
		}
		for _, h := range svc.Hosts {
			if eng, ok := d.Hosts[h]; ok {
				if err := eng.CheckSupported(spec); err != nil {
					return fmt.Errorf("%w; nothing was changed on any host", err)
				}
			}
		}
	}
	return nil
}
