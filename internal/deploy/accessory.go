package deploy

import (
	"context"
	"fmt"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// ensureAccessory creates a long-lived service (a database, say) once and
// starts it if it is stopped. A plain deploy never replaces it, even when
// its config changed: replacing a database is a decision, not a side effect.
func (d *Deployer) ensureAccessory(ctx context.Context, eng Engine, svc *config.Service) (ServiceResult, error) {
	pr := d.progress()
	host := eng.Host()
	name := release.AccessoryName(d.Cfg.App, svc.Name)
	res := ServiceResult{Host: host, Service: svc.Name, Container: name}
	imageID, err := resolveImage(ctx, eng, svc.Name, svc.Compose.Image)
	if err != nil {
		return res, err
	}
	spec, err := containerSpec(d.Cfg, svc, svc.Compose.Image, imageID, 1, versionOf(svc.Compose.Image, imageID))
	if err != nil {
		return res, err
	}
	res.Version = spec.Labels[release.LabelVersion]
	info, err := eng.InspectContainer(ctx, name)
	switch {
	case err == nil && info.Labels[release.LabelApp] != d.Cfg.App:
		return res, &NameTakenError{Host: host, Name: name}
	case err == nil && info.Running:
		res.Action = "unchanged"
		detail := "running"
		if info.Labels[release.LabelConfigHash] != spec.Labels[release.LabelConfigHash] {
			detail = "running; its config changed but accessories are never replaced by a deploy (fix: to apply it, recreate it deliberately with `docker rm -f " + name + "` then deploy; named volumes keep the data)"
		}
		pr.Step(Event{Host: host, Service: svc.Name, Step: "accessory", Detail: detail})
		return res, nil
	case err == nil:
		pr.Step(Event{Host: host, Service: svc.Name, Step: "accessory", Detail: "starting " + name})
		if err := eng.StartContainer(ctx, info.ID); err != nil {
			return res, err
		}
		res.Action = "started"
		return res, d.waitAccessory(ctx, eng, svc, info.ID, name)
	case !engine.IsNotFound(err):
		return res, err
	}
	pr.Step(Event{Host: host, Service: svc.Name, Step: "accessory", Detail: "creating " + name})
	id, err := d.create(ctx, eng, svc, spec)
	if err != nil {
		return res, err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		return res, fmt.Errorf("%w\nlast log lines of %s:\n%s", err, name, indent(failNew(ctx, eng, id)))
	}
	res.Action = "created"
	return res, d.waitAccessory(ctx, eng, svc, id, name)
}

func (d *Deployer) waitAccessory(ctx context.Context, eng Engine, svc *config.Service, id, name string) error {
	d.progress().Step(Event{Host: eng.Host(), Service: svc.Name, Step: "health", Detail: "waiting for " + name})
	last, err := waitWorker(ctx, eng, svc, id)
	if err != nil {
		logs, _ := eng.ContainerLogs(ctx, id, 30)
		return &HealthError{Host: eng.Host(), Service: svc.Name, Container: name, Timeout: svc.Deploy.HealthTimeout, LastCheck: last, Logs: logs, Accessory: true}
	}
	return nil
}
