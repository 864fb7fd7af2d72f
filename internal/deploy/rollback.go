package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/release"
)

// RollbackOptions select what a rollback does.
type RollbackOptions struct {
	Services []string // empty: every service that is not an accessory
	To       int      // release number; 0: the one before the serving release
	LockWait time.Duration
}

// Rollback brings a kept release back: it is started, health-gated exactly
// like a new one, and only then receives traffic.
func (d *Deployer) Rollback(ctx context.Context, opts RollbackOptions) (*Result, error) {
	svcs, err := d.selectServices(opts.Services)
	if err != nil {
		return nil, err
	}
	var targets []*config.Service
	for _, s := range svcs {
		if !s.Accessory {
			targets = append(targets, s)
		}
	}
	if opts.To != 0 && len(targets) != 1 {
		return nil, fmt.Errorf("--to %d needs exactly one service (fix: berth rollback SERVICE --to %d)", opts.To, opts.To)
	}
	res := &Result{App: d.Cfg.App}
	err = d.withLock(ctx, opts.LockWait, "rollback "+strings.Join(opts.Services, " "), func() error {
		for _, svc := range targets {
			for _, hostName := range svc.Hosts {
				eng := d.Hosts[hostName]
				if err := d.prepareHost(ctx, eng); err != nil {
					return err
				}
				start := time.Now()
				r, err := d.rollbackOne(ctx, eng, svc, opts.To)
				r.Seconds = time.Since(start).Seconds()
				if err != nil {
					return err
				}
				res.Services = append(res.Services, r)
			}
		}
		return nil
	})
	return res, err
}

func (d *Deployer) rollbackOne(ctx context.Context, eng Engine, svc *config.Service, to int) (ServiceResult, error) {
	host := eng.Host()
	res := ServiceResult{Host: host, Service: svc.Name}
	hist, err := history(ctx, eng, d.Cfg.App, svc.Name)
	if err != nil {
		return res, err
	}
	cur, err := current(ctx, eng, d.Cfg.App, svc, hist)
	if err != nil {
		return res, err
	}
	var target *release.Release
	if to != 0 {
		r, ok := release.Find(hist, to)
		if !ok {
			return res, fmt.Errorf("host %s: service %s has no release %d (fix: pick one from `berth releases %s`)", host, svc.Name, to, svc.Name)
		}
		target = &r
	} else {
		if cur == nil {
			// Nothing serves, so "the one before" has no meaning, and the
			// newest release is the likeliest to be the broken one.
			return res, fmt.Errorf("host %s: no release of %s serves now, so there is no \"previous\" one (fix: pick a release with --to N from `berth releases %s`)", host, svc.Name, svc.Name)
		}
		for i := len(hist) - 1; i >= 0; i-- {
			if hist[i].Number < cur.Number {
				target = &hist[i]
				break
			}
		}
		if target == nil {
			return res, fmt.Errorf("host %s: service %s has no earlier release to roll back to (fix: `berth releases %s` lists what is kept)", host, svc.Name, svc.Name)
		}
	}
	if cur != nil && cur.Number == target.Number {
		res.Action, res.Release, res.Version, res.Container, res.Replicas = "unchanged", cur.Number, cur.Version, cur.Container, len(cur.Containers)
		d.progress().Step(Event{Host: host, Service: svc.Name, Step: "unchanged", Detail: fmt.Sprintf("release %d already serves", cur.Number)})
		return res, nil
	}
	d.progress().Step(Event{Host: host, Service: svc.Name, Step: "rollback", Detail: fmt.Sprintf("starting release %d (%s) as %s", target.Number, target.Version, replicaNames(*target))})
	// Every replica the kept release had comes back, or none does.
	if err := startRelease(ctx, eng, svc, *target); err != nil {
		return res, err
	}
	res.Action, res.Release, res.Version, res.Container, res.Replicas = "rolled-back", target.Number, target.Version, target.Container, len(target.Containers)
	if cur != nil {
		res.Previous = cur.Container
	}
	return res, d.promote(ctx, eng, svc, *target, hist, true)
}
