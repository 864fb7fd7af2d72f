package engine

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client/pkg/versions"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Engine API versions that brought a setting berth passes through. Below
// them the engine would ignore the field, so berth refuses instead of
// deploying something other than what compose.yaml says.
const (
	apiEndpointMAC   = "1.44" // EndpointSettings.MacAddress honoured at create
	apiVolumeSubpath = "1.45" // VolumeOptions.Subpath
)

// CheckSupported reports the settings of spec this engine's API is too old
// for, so a deploy can refuse before it changes anything.
func (c *Client) CheckSupported(spec ContainerSpec) error { return c.needsAPI(spec) }

// needsAPI names the settings of spec this engine is too old for.
func (c *Client) needsAPI(spec ContainerSpec) error {
	var missing []string
	for name, ep := range spec.Endpoints {
		if ep.MacAddress != "" && versions.LessThan(c.APIVersion, apiEndpointMAC) {
			missing = append(missing, fmt.Sprintf("mac_address on network %s needs Engine API %s", name, apiEndpointMAC))
		}
	}
	for _, m := range spec.Mounts {
		if m.Subpath != "" && versions.LessThan(c.APIVersion, apiVolumeSubpath) {
			missing = append(missing, fmt.Sprintf("volume subpath at %s needs Engine API %s", m.Target, apiVolumeSubpath))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("host %s: container %s: %s; this engine speaks API %s (fix: upgrade the engine, or remove the setting from compose.yaml)",
		c.Host(), spec.Name, strings.Join(missing, "; "), c.APIVersion)
}

// applySettings maps the compose settings berth honours beyond the basics
// onto the create request.
func applySettings(spec ContainerSpec, cfg *container.Config, host *container.HostConfig) error {
	cfg.Hostname, cfg.Domainname = spec.Hostname, spec.Domainname
	cfg.Tty, cfg.OpenStdin = spec.Tty, spec.OpenStdin
	host.Runtime = spec.Runtime
	host.ShmSize = spec.ShmSize
	host.GroupAdd = spec.GroupAdd
	host.VolumesFrom = spec.VolumesFrom
	host.DNSSearch = spec.DNSSearch
	host.DNSOptions = spec.DNSOptions
	for _, d := range spec.DNS {
		ip, err := netip.ParseAddr(d)
		if err != nil {
			return fmt.Errorf("dns %q is not an IP address", d)
		}
		host.DNS = append(host.DNS, ip)
	}
	for _, u := range spec.Ulimits {
		host.Ulimits = append(host.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if len(spec.StorageOpt) > 0 {
		host.StorageOpt = spec.StorageOpt
	}
	host.CgroupParent = spec.CgroupParent
	host.DeviceCgroupRules = spec.DeviceCgroupRules
	for _, d := range spec.DeviceRequests {
		host.DeviceRequests = append(host.DeviceRequests, container.DeviceRequest{
			Driver: d.Driver, Count: d.Count, DeviceIDs: d.DeviceIDs, Capabilities: d.Capabilities, Options: d.Options,
		})
	}
	r := spec.Resources
	host.CPUShares = r.CPUShares
	host.CPUPeriod, host.CPUQuota = r.CPUPeriod, r.CPUQuota
	host.CPURealtimePeriod, host.CPURealtimeRuntime = r.CPURealtimePeriod, r.CPURealtimeRuntime
	host.CpusetCpus, host.CpusetMems = r.CpusetCpus, r.CpusetMems
	host.MemoryReservation = r.MemoryReservation
	host.MemorySwap = r.MemorySwap
	host.MemorySwappiness = r.MemorySwappiness
	if r.OomKillDisable {
		host.OomKillDisable = &r.OomKillDisable
	}
	host.OomScoreAdj = r.OomScoreAdj
	host.BlkioWeight = r.BlkioWeight
	for _, w := range r.BlkioWeightDevice {
		host.BlkioWeightDevice = append(host.BlkioWeightDevice, &blkiodev.WeightDevice{Path: w.Path, Weight: w.Weight})
	}
	host.BlkioDeviceReadBps = throttles(r.BlkioReadBps)
	host.BlkioDeviceWriteBps = throttles(r.BlkioWriteBps)
	host.BlkioDeviceReadIOps = throttles(r.BlkioReadIOps)
	host.BlkioDeviceWriteIOps = throttles(r.BlkioWriteIOps)
	if spec.NetworkMode != "" {
		host.NetworkMode = container.NetworkMode(spec.NetworkMode)
	}
	return nil
}

func throttles(in []ThrottleDevice) []*blkiodev.ThrottleDevice {
	var out []*blkiodev.ThrottleDevice
	for _, t := range in {
		out = append(out, &blkiodev.ThrottleDevice{Path: t.Path, Rate: t.Rate})
	}
	return out
}

// applyMounts sends binds the engine should create when missing through
// the Binds list (the only way on API 1.41: the mount API's
// CreateMountpoint arrived in 1.42), and everything else as mounts.
func applyMounts(spec ContainerSpec, host *container.HostConfig) {
	for _, m := range spec.Mounts {
		if m.Type == "bind" && !m.NoCreate {
			var opts []string
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if m.Propagation != "" {
				opts = append(opts, m.Propagation)
			}
			if m.SELinux != "" {
				opts = append(opts, m.SELinux)
			}
			b := m.Source + ":" + m.Target
			if len(opts) > 0 {
				b += ":" + strings.Join(opts, ",")
			}
			host.Binds = append(host.Binds, b)
			continue
		}
		mm := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.Type == "bind" && m.Propagation != "" {
			mm.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(m.Propagation)}
		}
		if m.Type == "volume" && (m.NoCopy || m.Subpath != "") {
			mm.VolumeOptions = &mount.VolumeOptions{NoCopy: m.NoCopy, Subpath: m.Subpath}
		}
		host.Mounts = append(host.Mounts, mm)
	}
}

// endpointSettings is what the container asks of network name.
func endpointSettings(spec ContainerSpec, name string) (*network.EndpointSettings, error) {
	es := &network.EndpointSettings{Aliases: spec.Networks[name]}
	ep, ok := spec.Endpoints[name]
	if !ok {
		return es, nil
	}
	es.DriverOpts = ep.DriverOpts
	ipam := &network.EndpointIPAMConfig{}
	set := false
	for _, a := range []struct {
		s   string
		dst *netip.Addr
	}{{ep.IPv4Address, &ipam.IPv4Address}, {ep.IPv6Address, &ipam.IPv6Address}} {
		if a.s == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.s)
		if err != nil {
			return nil, fmt.Errorf("network %s: address %q: %w", name, a.s, err)
		}
		*a.dst, set = ip, true
	}
	for _, l := range ep.LinkLocalIPs {
		ip, err := netip.ParseAddr(l)
		if err != nil {
			return nil, fmt.Errorf("network %s: link-local address %q: %w", name, l, err)
		}
		ipam.LinkLocalIPs, set = append(ipam.LinkLocalIPs, ip), true
	}
	if set {
		es.IPAMConfig = ipam
	}
	if ep.MacAddress != "" {
		hw, err := net.ParseMAC(ep.MacAddress)
		if err != nil {
			return nil, fmt.Errorf("network %s: mac_address %q: %w", name, ep.MacAddress, err)
		}
		es.MacAddress = network.HardwareAddr(hw)
	}
	return es, nil
}

// platform parses compose's os/arch[/variant].
func platform(p string) *ocispec.Platform {
	if p == "" {
		return nil
	}
	parts := strings.SplitN(p, "/", 3)
	pl := &ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		pl.Architecture = parts[1]
	}
	if len(parts) > 2 {
		pl.Variant = parts[2]
	}
	return pl
}
