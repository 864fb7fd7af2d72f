package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
	"github.com/berthhq/berth/internal/release"
)

// RemovalPlan is everything `berth remove` would delete, shown before it is.
type RemovalPlan struct {
	Hosts []HostRemoval `json:"hosts"`
}

// HostRemoval is what goes on one host.
type HostRemoval struct {
	Host       string   `json:"host"`
	Routes     []string `json:"routes"`
	Containers []string `json:"containers"`
	Networks   []string `json:"networks"`
	// Volumes hold the app's data; they go only with --volumes.
	Volumes []string `json:"volumes"`
}

// PlanRemoval lists what taking the app down removes.
func (d *Deployer) PlanRemoval(ctx context.Context) (*RemovalPlan, error) {
	plan := &RemovalPlan{}
	for _, h := range d.Cfg.Hosts {
		eng := d.Hosts[h.Name]
		hr := HostRemoval{Host: h.Name, Networks: appNetworks(d.Cfg, h.Name)}
		cs, err := eng.ListContainers(ctx, map[string]string{release.LabelApp: d.Cfg.App})
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.Labels[release.LabelRole] != release.RoleLock {
				hr.Containers = append(hr.Containers, c.Name)
			}
		}
		if _, err := eng.InspectContainer(ctx, ProxyName); err == nil {
			routes, err := ProxyClient(eng).Routes(ctx)
			if err != nil {
				return nil, err
			}
			for _, r := range routes {
				for _, s := range d.Cfg.Services {
					if r.Key == RouteKey(d.Cfg.App, s.Name) {
						hr.Routes = append(hr.Routes, r.Key)
					}
				}
			}
		} else if !engine.IsNotFound(err) {
			return nil, err
		}
		vols, err := eng.ListVolumes(ctx, map[string]string{release.LabelApp: d.Cfg.App})
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			hr.Volumes = append(hr.Volumes, v.Name)
		}
		sort.Strings(hr.Containers)
		sort.Strings(hr.Volumes)
		plan.Hosts = append(plan.Hosts, hr)
	}
	return plan, nil
}

// Remove takes the app down as planned: routes first (so nothing is sent to
// a container about to go), then containers, then the app network. Named
// volumes are deleted only when volumes is true.
func (d *Deployer) Remove(ctx context.Context, plan *RemovalPlan, volumes bool, lockWait time.Duration) error {
	return d.withLock(ctx, lockWait, "remove", func() error {
		for _, hr := range plan.Hosts {
			eng := d.Hosts[hr.Host]
			pr := d.progress()
			for _, key := range hr.Routes {
				pr.Step(Event{Host: hr.Host, Step: "route", Detail: "removing route " + key})
				// Gone already (a re-run after a partial remove) is fine.
				if err := ProxyClient(eng).DeleteRoute(ctx, key); err != nil && !errors.Is(err, proxy.ErrNoRoute) {
					return err
				}
			}
			for _, name := range hr.Containers {
				pr.Step(Event{Host: hr.Host, Step: "container", Detail: "removing " + name})
				remove := func() error { return eng.RemoveContainer(ctx, name, true) }
				if volumes {
					remove = func() error { return eng.DiscardContainer(ctx, name) }
				}
				if err := remove(); err != nil && !engine.IsNotFound(err) {
					return err
				}
			}
			for _, n := range hr.Networks {
				if err := eng.RemoveNetwork(ctx, n); err != nil {
					return fmt.Errorf("%w (fix: disconnect the containers still attached to it)", err)
				}
			}
			if removed, err := removeProxyIfIdle(ctx, eng); err != nil {
				return err
			} else if removed {
				pr.Step(Event{Host: hr.Host, Step: "proxy", Detail: "no routes left: removed berth-proxy"})
			}
			if volumes {
				for _, v := range hr.Volumes {
					pr.Step(Event{Host: hr.Host, Step: "volume", Detail: "deleting volume " + v})
					if err := eng.RemoveVolume(ctx, v); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}
