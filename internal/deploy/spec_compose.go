package deploy

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// NetworkName is the engine name of compose network key: the app network
// for compose's implicit default (so services find each other by name as
// before any networks: was written), else compose's own name, which
// compose-go has already set to <app>_<key>, name: or the external name.
func NetworkName(cfg *config.Config, key string) string {
	n, declared := cfg.Project.Networks[key]
	if key == "default" && (!declared || plainDefault(cfg, n)) {
		return AppNetwork(cfg.App)
	}
	if n.Name != "" {
		return n.Name
	}
	return cfg.App + "_" + key
}

// plainDefault reports whether the default network is declared with
// nothing but compose's defaults, so berth's app network can stand in.
func plainDefault(cfg *config.Config, n types.NetworkConfig) bool {
	if n.Name == cfg.App+"_default" {
		n.Name = "" // compose-go's own default name
	}
	return reflect.ValueOf(n).IsZero()
}

// applyNetworks joins the container to its compose networks, in compose's
// order (priority, then name), with the service name and its aliases, the
// aliases other services' links: give it, and static addresses.
func applyNetworks(cfg *config.Config, svc *config.Service, spec *engine.ContainerSpec) error {
	c := svc.Compose
	spec.Networks = map[string][]string{}
	switch mode := c.NetworkMode; {
	case mode == "none":
		spec.NetworkMode = mode
		return nil
	case strings.HasPrefix(mode, types.ServicePrefix):
		// An accessory (config refuses the rest): its container keeps its name.
		spec.NetworkMode = "container:" + release.AccessoryName(cfg.App, strings.TrimPrefix(mode, types.ServicePrefix))
		return nil
	case strings.HasPrefix(mode, types.ContainerPrefix):
		spec.NetworkMode = mode
		return nil
	case mode != "":
		return fmt.Errorf("service %s: network_mode %q is not supported by berth (fix: remove it)", svc.Name, mode)
	}
	keys := c.NetworksByPriority()
	if len(keys) == 0 {
		keys = []string{"default"}
	}
	links := linkAliases(cfg, svc.Name)
	for i, key := range keys {
		n := c.Networks[key]
		name := NetworkName(cfg, key)
		var aliases []string
		if n.ServiceNameAliasEnabled() {
			aliases = append(aliases, svc.Name)
		}
		if n != nil {
			aliases = append(aliases, n.Aliases...)
		}
		aliases = append(aliases, links...)
		spec.Networks[name] = aliases
		spec.NetworkOrder = append(spec.NetworkOrder, name)
		var ep engine.NetworkEndpoint
		if n != nil {
			ep = engine.NetworkEndpoint{IPv4Address: n.Ipv4Address, IPv6Address: n.Ipv6Address, LinkLocalIPs: n.LinkLocalIPs, MacAddress: n.MacAddress, DriverOpts: n.DriverOpts}
		}
		if i == 0 && ep.MacAddress == "" {
			ep.MacAddress = c.MacAddress // docker compose gives it to the first network
		}
		if !reflect.ValueOf(ep).IsZero() {
			if spec.Endpoints == nil {
				spec.Endpoints = map[string]engine.NetworkEndpoint{}
			}
			spec.Endpoints[name] = ep
		}
	}
	return nil
}

// linkAliases are the names other services link to service as
// ("db" or "db:database"): DNS aliases on its networks, so the name
// resolves whichever release of it is serving.
func linkAliases(cfg *config.Config, service string) []string {
	seen := map[string]bool{service: true}
	var out []string
	for _, name := range sortedNames(cfg.Project.Services) {
		for _, l := range cfg.Project.Services[name].Links {
			target, alias, ok := strings.Cut(l, ":")
			if target != service || !ok || seen[alias] {
				continue
			}
			seen[alias] = true
			out = append(out, alias)
		}
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// applySettings copies the compose settings that map one to one onto the
// container. Unset settings stay zero, which keeps them out of the spec
// hash (engine.ContainerSpec's omitempty fields).
func applySettings(cfg *config.Config, svc *config.Service, spec *engine.ContainerSpec) {
	c := svc.Compose
	spec.Hostname, spec.Domainname = c.Hostname, c.DomainName
	spec.Tty, spec.OpenStdin = c.Tty, c.StdinOpen
	spec.Runtime = c.Runtime
	spec.ShmSize = int64(c.ShmSize)
	spec.Platform = c.Platform
	spec.GroupAdd = c.GroupAdd
	spec.DNS, spec.DNSSearch, spec.DNSOptions = c.DNS, c.DNSSearch, c.DNSOpts
	if len(c.StorageOpt) > 0 {
		spec.StorageOpt = c.StorageOpt
	}
	spec.CgroupParent = c.CgroupParent
	spec.DeviceCgroupRules = c.DeviceCgroupRules
	for _, name := range sortedNames(c.Ulimits) {
		u := c.Ulimits[name]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		spec.Ulimits = append(spec.Ulimits, engine.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	for _, from := range c.VolumesFrom {
		if ref, ok := strings.CutPrefix(from, types.ContainerPrefix); ok {
			spec.VolumesFrom = append(spec.VolumesFrom, ref)
			continue
		}
		// A service: an accessory (config refuses the rest), whose
		// container keeps its name. A ":ro"/":rw" suffix carries over.
		name, mode, _ := strings.Cut(from, ":")
		ref := release.AccessoryName(cfg.App, name)
		if mode != "" {
			ref += ":" + mode
		}
		spec.VolumesFrom = append(spec.VolumesFrom, ref)
	}
	for _, ns := range []*string{&spec.IpcMode, &spec.PidMode, &spec.UTSMode} {
		if ref, ok := strings.CutPrefix(*ns, types.ServicePrefix); ok {
			*ns = "container:" + release.AccessoryName(cfg.App, ref)
		}
	}
	for _, g := range c.Gpus {
		spec.DeviceRequests = append(spec.DeviceRequests, deviceRequest(g, "gpu"))
	}
	r := engine.Resources{
		CPUShares: c.CPUShares, CPUPeriod: c.CPUPeriod, CPUQuota: c.CPUQuota,
		CPURealtimePeriod: c.CPURTPeriod, CPURealtimeRuntime: c.CPURTRuntime,
		CpusetCpus: c.CPUSet, MemoryReservation: int64(c.MemReservation), MemorySwap: int64(c.MemSwapLimit),
		OomKillDisable: c.OomKillDisable, OomScoreAdj: int(c.OomScoreAdj),
	}
	if c.MemSwappiness != 0 {
		v := int64(c.MemSwappiness)
		r.MemorySwappiness = &v
	}
	if d := c.Deploy; d != nil && d.Resources.Reservations != nil {
		res := d.Resources.Reservations
		if res.MemoryBytes > 0 {
			r.MemoryReservation = int64(res.MemoryBytes)
		}
		for _, dev := range res.Devices {
			spec.DeviceRequests = append(spec.DeviceRequests, deviceRequest(dev, ""))
		}
	}
	if b := c.BlkioConfig; b != nil {
		r.BlkioWeight = b.Weight
		for _, w := range b.WeightDevice {
			r.BlkioWeightDevice = append(r.BlkioWeightDevice, engine.WeightDevice{Path: w.Path, Weight: w.Weight})
		}
		r.BlkioReadBps, r.BlkioWriteBps = throttles(b.DeviceReadBps), throttles(b.DeviceWriteBps)
		r.BlkioReadIOps, r.BlkioWriteIOps = throttles(b.DeviceReadIOps), throttles(b.DeviceWriteIOps)
	}
	spec.Resources = r
}

// deviceRequest maps a compose device request; gpus: adds the gpu
// capability and, without a count or IDs, asks for all, like `--gpus all`.
func deviceRequest(d types.DeviceRequest, capability string) engine.DeviceRequest {
	caps := append([]string(nil), d.Capabilities...)
	if capability != "" && !contains(caps, capability) {
		caps = append(caps, capability)
	}
	r := engine.DeviceRequest{Driver: d.Driver, Count: int(d.Count), DeviceIDs: d.IDs, Options: d.Options}
	if len(caps) > 0 {
		r.Capabilities = [][]string{caps}
	}
	if r.Count == 0 && len(r.DeviceIDs) == 0 {
		r.Count = -1
	}
	return r
}

func throttles(in []types.ThrottleDevice) []engine.ThrottleDevice {
	var out []engine.ThrottleDevice
	for _, t := range in {
		out = append(out, engine.ThrottleDevice{Path: t.Path, Rate: uint64(t.Rate)})
	}
	return out
}

// tmpfsOptions is the long syntax's size and mode in `--tmpfs` form.
func tmpfsOptions(t *types.ServiceVolumeTmpfs) string {
	if t == nil {
		return ""
	}
	var opts []string
	if t.Size > 0 {
		opts = append(opts, fmt.Sprintf("size=%d", int64(t.Size)))
	}
	if t.Mode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", t.Mode))
	}
	return strings.Join(opts, ",")
}
