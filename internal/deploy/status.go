package deploy

import (
	"context"
	"sort"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
	"github.com/berthhq/berth/internal/release"
)

// HostStatus is what runs for the app on one host.
type HostStatus struct {
	Host     string          `json:"host"`
	Endpoint string          `json:"endpoint,omitempty"`
	Proxy    *ProxyStatus    `json:"proxy,omitempty"`
	Services []ServiceStatus `json:"services"`
	Lock     *release.Lock   `json:"lock,omitempty"`
}

// ProxyStatus is berth-proxy's state on a host.
type ProxyStatus struct {
	Container string        `json:"container"`
	State     string        `json:"state"`
	Image     string        `json:"image"`
	Routes    []proxy.Route `json:"routes"`
}

// ServiceStatus is one service's releases on a host.
type ServiceStatus struct {
	Service string `json:"service"`
	Kind    string `json:"kind"` // web, worker, accessory
	Route   string `json:"route,omitempty"`
	// Replicas is how many containers a release of the service runs on
	// the host by the config; each release says what it was created with.
	Replicas int               `json:"replicas"`
	Current  *release.Release  `json:"current"`
	Releases []release.Release `json:"releases"`
	// Ports is the forwarder publishing a replaceable service's ports.
	Ports *ForwarderStatus `json:"ports,omitempty"`
}

// Status reads the app's state on every host: releases, which one serves,
// the proxy and its routes.
func (d *Deployer) Status(ctx context.Context) ([]HostStatus, error) {
	var out []HostStatus
	for _, h := range d.Cfg.Hosts {
		eng := d.Hosts[h.Name]
		hs := HostStatus{Host: h.Name}
		if c, ok := eng.(interface{ Endpoint() string }); ok {
			hs.Endpoint = c.Endpoint()
		}
		proxyUp := false
		if info, err := eng.InspectContainer(ctx, ProxyName); err == nil {
			ps := &ProxyStatus{Container: ProxyName, State: info.Status, Image: info.Image}
			if info.Running {
				if ps.Routes, err = ProxyClient(eng).Routes(ctx); err != nil {
					return nil, err
				}
				proxyUp = true
			}
			hs.Proxy = ps
		} else if !engine.IsNotFound(err) {
			return nil, err
		}
		cs, err := eng.ListContainers(ctx, map[string]string{release.LabelApp: d.Cfg.App})
		if err != nil {
			return nil, err
		}
		hists := release.FromContainers(cs)
		for _, svc := range d.Cfg.Services {
			if !onHost(svc.Hosts, h.Name) {
				continue
			}
			ss := ServiceStatus{Service: svc.Name, Kind: svc.Kind(), Releases: hists[svc.Name], Replicas: svc.Replicas()}
			switch {
			case svc.Accessory:
				for _, c := range cs {
					if c.Name == release.AccessoryName(d.Cfg.App, svc.Name) && c.Labels[release.LabelRole] == release.RoleAccessory {
						ss.Current = &release.Release{Service: svc.Name, Container: c.Name, ContainerID: c.ID, State: c.State, Status: c.Status, Image: c.Image, Version: c.Labels[release.LabelVersion], Created: c.Created, Current: true, Replicas: 1}
					}
				}
			case svc.Route != nil:
				ss.Route = svc.Route.Host
			}
			if !svc.Accessory && (svc.Route == nil || proxyUp) {
				cur, err := current(ctx, eng, d.Cfg.App, svc, ss.Releases)
				if err != nil {
					return nil, err
				}
				for i := range ss.Releases {
					if cur != nil && ss.Releases[i].Number == cur.Number {
						ss.Releases[i].Current = true
						c := ss.Releases[i]
						ss.Current = &c
					}
				}
			}
			if ss.Ports, err = d.forwarderStatus(ctx, eng, svc); err != nil {
				return nil, err
			}
			sort.Slice(ss.Releases, func(i, j int) bool { return ss.Releases[i].Number > ss.Releases[j].Number })
			hs.Services = append(hs.Services, ss)
		}
		if eng == d.lockHost() {
			if hs.Lock, err = release.Status(ctx, eng, d.Cfg.App); err != nil {
				return nil, err
			}
		}
		out = append(out, hs)
	}
	return out, nil
}

func onHost(hosts []string, name string) bool {
	for _, h := range hosts {
		if h == name {
			return true
		}
	}
	return false
}
