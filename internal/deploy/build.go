package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berthhq/berth/internal/build"
	"github.com/berthhq/berth/internal/config"
)

// buildImages builds every selected service that has build: (unless
// --image names what to run instead) and returns the reference each one's
// releases run. It runs before policy admission, so policy judges the
// image that was built, and before the lock and any change on a host: a
// failed build deploys nothing anywhere.
func (d *Deployer) buildImages(ctx context.Context, svcs []*config.Service, opts Options) (map[string]string, error) {
	out := map[string]string{}
	// Services that share an image name and its build (a YAML anchor, a
	// common x- extension) are one build, as in docker compose.
	type done struct{ service, ref string }
	same := map[string]done{}
	for _, svc := range svcs {
		if svc.Compose.Build == nil {
			continue
		}
		if _, ok := opts.Images[svc.Name]; ok {
			continue
		}
		settings, _ := json.Marshal(svc.Compose.Build)
		key := build.ImageName(d.Cfg.App, svc.Name, svc.Compose.Image) + "\x00" + string(settings) + "\x00" + strings.Join(svc.Hosts, ",")
		if prev, ok := same[key]; ok {
			d.progress().Step(Event{Host: d.Hosts[svc.Hosts[0]].Host(), Service: svc.Name, Step: "build", Detail: "same image and build as " + prev.service + ": " + prev.ref})
			out[svc.Name] = prev.ref
			continue
		}
		var hosts []build.Engine
		for _, name := range svc.Hosts {
			be, ok := d.Hosts[name].(build.Engine)
			if !ok {
				return nil, fmt.Errorf("host %s: this engine connection cannot build images", name)
			}
			hosts = append(hosts, be)
		}
		res, err := build.Service(ctx, build.Request{
			App: d.Cfg.App, Service: svc, Hosts: hosts, NoBuild: opts.NoBuild,
			Progress: func(host, step, detail string) {
				d.progress().Step(Event{Host: host, Service: svc.Name, Step: step, Detail: detail})
			},
		})
		if err != nil {
			return nil, err
		}
		out[svc.Name] = res.Ref
		same[key] = done{svc.Name, res.Ref}
	}
	return out, nil
}

// withImages is the services' images for this deploy: --image first, then
// what was built.
func withImages(flags, built map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range built {
		out[k] = v
	}
	for k, v := range flags {
		out[k] = v
	}
	return out
}

// withImage is svc running ref instead of its compose image, for the code
// paths that read the image from the service (accessories).
func withImage(svc *config.Service, ref string) *config.Service {
	if ref == "" {
		return svc
	}
	c := *svc
	c.Compose.Image = ref
	return &c
}
