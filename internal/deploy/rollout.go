package deploy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/proxy"
	"github.com/berthhq/berth/internal/release"
)

// RouteKey is the proxy route of an app's service.
func RouteKey(app, service string) string { return app + "/" + service }

func routeTarget(container string, port int) string {
	return container + ":" + strconv.Itoa(port)
}

// current finds the serving release: for a routed service the one whose
// containers the proxy routes to, for a worker the newest running release.
func current(ctx context.Context, eng Engine, app string, svc *config.Service, hist []release.Release) (*release.Release, error) {
	if svc.Route != nil {
		routes, err := ProxyClient(eng).Routes(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range routes {
			if r.Key != RouteKey(app, svc.Name) {
				continue
			}
			for _, t := range r.TargetList() {
				name, _, _ := strings.Cut(t, ":")
				for i := range hist {
					if slices.ContainsFunc(hist[i].Containers, func(c release.Replica) bool { return c.Container == name }) {
						return &hist[i], nil
					}
				}
			}
		}
		return nil, nil
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].Running() {
			return &hist[i], nil
		}
	}
	return nil, nil
}

// rollOut deploys a new release of a routed service or a worker, unless the
// serving release already is exactly what the config asks for.
func (d *Deployer) rollOut(ctx context.Context, eng Engine, svc *config.Service, image, version string) (ServiceResult, error) {
	pr := d.progress()
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
	if err := d.ensureForwarder(ctx, eng, svc, cur); err != nil {
		return res, err
	}
	imageID, err := resolveImage(ctx, eng, svc.Name, image)
	if err != nil {
		return res, err
	}
	if version == "" {
		version = versionOf(image, imageID)
	}
	n := release.Next(hist)
	spec, err := containerSpec(d.Cfg, svc, image, imageID, n, version)
	if err != nil {
		return res, err
	}
	specs := replicaSpecs(d.Cfg.App, svc, spec, n)
	// A release that lost a replica, or has one stopped, is not what the
	// config asks for: a new, whole one replaces it.
	if cur != nil && cur.AllRunning() && cur.ConfigHash == specs[0].Labels[release.LabelConfigHash] {
		pr.Step(Event{Host: host, Service: svc.Name, Step: "unchanged", Detail: fmt.Sprintf("release %d (%s) already runs this config", cur.Number, cur.Version)})
		// A worker whose deploy was interrupted before its gate still runs
		// beside the old release: gate it now, before the old one stops.
		if svc.Route == nil && othersRunning(hist, cur.Number) {
			pr.Step(Event{Host: host, Service: svc.Name, Step: "health", Detail: "finishing an interrupted deploy: waiting for " + replicaNames(*cur)})
			if r := d.waitAllReady(ctx, eng, svc, *cur); r.err != nil {
				logs := failNew(ctx, eng, r.replica.ContainerID)
				discardRelease(ctx, eng, *cur)
				return res, &HealthError{Host: host, Service: svc.Name, Container: r.replica.Container, Release: cur.Number, Timeout: svc.Deploy.HealthTimeout, LastCheck: r.last, Logs: logs}
			}
		}
		if err := d.retire(ctx, eng, svc, hist, cur.Number); err != nil {
			return res, err
		}
		res.Action, res.Release, res.Version, res.Container, res.Replicas = "unchanged", cur.Number, cur.Version, cur.Container, len(cur.Containers)
		return res, nil
	}
	// A deploy killed before its switch leaves a newer release that never
	// served: it goes, so a re-run converges instead of piling up.
	kept := hist[:0:0]
	for _, r := range hist {
		// Stopped newer releases are history (a rollback went below them);
		// a running one that does not serve was started by a deploy that
		// never switched.
		if r.Running() && (cur != nil && r.Number > cur.Number || cur == nil && svc.Route != nil) {
			pr.Step(Event{Host: host, Service: svc.Name, Step: "cleanup", Detail: fmt.Sprintf("removing %s left by an interrupted deploy", replicaNames(r))})
			for _, c := range r.Containers {
				if err := eng.DiscardContainer(ctx, c.ContainerID); err != nil && !engine.IsNotFound(err) {
					return res, err
				}
			}
			continue
		}
		kept = append(kept, r)
	}
	hist = kept
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	pr.Step(Event{Host: host, Service: svc.Name, Step: "create", Detail: fmt.Sprintf("release %d (%s) as %s", n, version, strings.Join(names, ", "))})
	newRel, err := d.createReplicas(ctx, eng, svc, specs)
	if err != nil {
		return res, err
	}
	res.Action, res.Release, res.Version, res.Container, res.Replicas = "deployed", n, version, newRel.Container, len(specs)
	if cur != nil {
		res.Previous = cur.Container
	}
	if err := d.promote(ctx, eng, svc, newRel, hist, false); err != nil {
		return res, err
	}
	return res, nil
}

// promote gates a started release on health, moves traffic to it, drains
// and stops the others. On failure the release is removed (a new one) or
// stopped again (a rollback target) and nothing else changes.
func (d *Deployer) promote(ctx context.Context, eng Engine, svc *config.Service, rel release.Release, hist []release.Release, rollback bool) error {
	pr := d.progress()
	host := eng.Host()
	pr.Step(Event{Host: host, Service: svc.Name, Step: "health", Detail: "waiting for " + replicaNames(rel) + " to become healthy"})
	ready := d.portsReady(ctx, eng, svc, rel, d.waitAllReady(ctx, eng, svc, rel))
	if err := ready.err; err != nil {
		// Every replica goes, or stops again: a release serves whole.
		cctx, cancel := cleanupCtx(ctx)
		logs, lerr := eng.ContainerLogs(cctx, ready.replica.ContainerID, 30)
		if lerr != nil {
			logs += "(could not read the logs: " + lerr.Error() + ")"
		}
		if rollback {
			_ = stopRelease(cctx, eng, svc, rel)
		} else {
			discardRelease(cctx, eng, rel)
		}
		cancel()
		if ctx.Err() != nil {
			what := "removed"
			if rollback {
				what = "stopped again"
			}
			return fmt.Errorf("host %s: service %s: interrupted before the switch; %s was %s and the previous release keeps serving: %w", host, svc.Name, replicaNames(rel), what, ctx.Err())
		}
		detail := ready.replica.Container + " is not healthy; the previous release keeps serving"
		if len(rel.Containers) > 1 {
			what := "removed"
			if rollback {
				what = "stopped again"
			}
			detail = fmt.Sprintf("%s is not healthy, so all %d replicas of release %d were %s; the previous release keeps serving", ready.replica.Container, len(rel.Containers), rel.Number, what)
		}
		pr.Step(Event{Host: host, Service: svc.Name, Step: "failed", Detail: detail})
		last := ready.last
		if last == "" {
			last = err.Error()
		}
		return &HealthError{Host: host, Service: svc.Name, Container: ready.replica.Container, Release: rel.Number, Timeout: svc.Deploy.HealthTimeout, LastCheck: last, Logs: logs}
	}
	// From here the new release serves: finishing the handover matters more
	// than an interrupt, so it runs to its end, bounded by what it may take.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), svc.Deploy.Drain+stopTimeout(svc)*time.Duration(len(hist)+1)+time.Minute)
	defer cancel()
	if svc.Route != nil {
		pc := ProxyClient(eng)
		key := RouteKey(d.Cfg.App, svc.Name)
		targets := routeTargets(rel, svc.Route.Port)
		target := strings.Join(targets, ", ")
		prevs, err := pc.SwitchRoute(ctx, proxy.Route{Key: key, Hosts: []string{svc.Route.Host}, Targets: targets,
			Health: &proxy.RouteHealth{Path: svc.Route.Health, IntervalMS: svc.Route.HealthInterval.Milliseconds(), TimeoutMS: svc.Route.HealthRequestTimeout.Milliseconds()}})
		if err != nil {
			// The exec may have failed after the proxy saved the switch:
			// only a route that still points elsewhere lets the new
			// release go. Removing a container the route points at would be
			// an outage.
			if routed, rerr := routesTo(ctx, pc, key, targets); rerr != nil || routed {
				return fmt.Errorf("host %s: service %s: switching the route to %s: %w (fix: run `berth status`; if the route points at %s, deploy again to finish the handover)", host, svc.Name, target, err, rel.Container)
			}
			if rollback {
				_ = stopRelease(ctx, eng, svc, rel)
			} else {
				discardRelease(ctx, eng, rel)
			}
			return fmt.Errorf("host %s: service %s: switching the route to %s failed; the previous release keeps serving: %w", host, svc.Name, target, err)
		}
		pr.Step(Event{Host: host, Service: svc.Name, Step: "switch", Detail: fmt.Sprintf("%s now routes to %s", svc.Route.Host, target)})
		var old []string
		for _, p := range prevs {
			if !slices.Contains(targets, p) {
				old = append(old, p)
			}
		}
		if len(old) > 0 {
			prev := strings.Join(old, ", ")
			pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: fmt.Sprintf("draining %s (up to %s)", prev, svc.Deploy.Drain)})
			if _, err := pc.DrainTargets(ctx, old, svc.Deploy.Drain); err != nil {
				// Traffic already moved; stopping the old release is still
				// right, it only loses the wait for its last requests.
				pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: "drain failed, stopping the old release anyway: " + err.Error()})
			}
		}
	}
	if err := d.switchForwarder(ctx, eng, svc, rel); err != nil {
		return err
	}
	return d.retire(ctx, eng, svc, hist, rel.Number)
}

// routesTo reports whether the proxy's route key points at any of targets.
func routesTo(ctx context.Context, pc *proxy.Client, key string, targets []string) (bool, error) {
	routes, err := pc.Routes(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range routes {
		if r.Key == key {
			return slices.ContainsFunc(r.TargetList(), func(t string) bool { return slices.Contains(targets, t) }), nil
		}
	}
	return false, nil
}

func othersRunning(hist []release.Release, n int) bool {
	for _, r := range hist {
		if r.Number != n && r.Running() {
			return true
		}
	}
	return false
}

// retire stops every running release but keep, and removes the stopped
// ones beyond deploy.keep, oldest first.
func (d *Deployer) retire(ctx context.Context, eng Engine, svc *config.Service, hist []release.Release, keep int) error {
	pr := d.progress()
	for _, r := range hist {
		if r.Number == keep || !r.Running() {
			continue
		}
		pr.Step(Event{Host: eng.Host(), Service: svc.Name, Step: "stop", Detail: fmt.Sprintf("stopping %s (kept for rollback)", replicaNames(r))})
		if err := stopRelease(ctx, eng, svc, r); err != nil {
			return err
		}
	}
	kept := 0
	for i := len(hist) - 1; i >= 0; i-- {
		r := hist[i]
		if r.Number == keep {
			continue
		}
		// keep counts releases, whatever their number of replicas.
		kept++
		if kept > svc.Deploy.Keep {
			pr.Step(Event{Host: eng.Host(), Service: svc.Name, Step: "prune", Detail: fmt.Sprintf("removing %s (beyond keep: %d)", replicaNames(r), svc.Deploy.Keep)})
			for _, c := range r.Containers {
				if err := eng.RemoveContainer(ctx, c.ContainerID, true); err != nil && !engine.IsNotFound(err) {
					return err
				}
			}
		}
	}
	return nil
}

// waitReady waits until a started release can take over: for a routed
// service its health path answers 2xx through the proxy's checker; for a
// worker its HEALTHCHECK passes, or it has run min_ready without
// restarting. It returns the last check result for the failure report.
func (d *Deployer) waitReady(ctx context.Context, eng Engine, svc *config.Service, id string) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if svc.Route == nil {
		return waitWorker(ctx, eng, svc, id)
	}
	info, err := eng.InspectContainer(ctx, id)
	if err != nil {
		return "", err
	}
	type result struct {
		r   proxy.CheckResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := ProxyClient(eng).Check(ctx, proxy.CheckRequest{
			Target: routeTarget(info.Name, svc.Route.Port), Path: svc.Route.Health, Host: svc.Route.Host,
			IntervalMS: svc.Route.HealthInterval.Milliseconds(), TimeoutMS: svc.Route.HealthRequestTimeout.Milliseconds(),
			DeadlineMS: svc.Deploy.HealthTimeout.Milliseconds(),
		})
		done <- result{r, err}
	}()
	// Watch the container meanwhile: one that exits will never pass, and
	// waiting out the whole deadline for it wastes the operator's time.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return "", r.err
			}
			desc := describeCheck(svc, r.r)
			if !r.r.Healthy {
				return desc, fmt.Errorf("unhealthy")
			}
			return desc, nil
		case <-tick.C:
			ci, err := eng.InspectContainer(ctx, id)
			if err == nil && exitedForGood(ci) {
				return fmt.Sprintf("the container exited with code %d%s before passing its health check", ci.ExitCode, oom(ci)), errExited
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func exitedForGood(ci engine.ContainerInfo) bool {
	return !ci.Running && (ci.Status == "exited" || ci.Status == "dead")
}

func oom(ci engine.ContainerInfo) string {
	if ci.OOMKilled {
		return " (killed: out of memory)"
	}
	return ""
}

func describeCheck(svc *config.Service, r proxy.CheckResult) string {
	s := fmt.Sprintf("GET %s on port %d, %d attempts", svc.Route.Health, svc.Route.Port, r.Attempts)
	switch {
	case r.Healthy:
		return fmt.Sprintf("%s: HTTP %d", s, r.Status)
	case r.Error != "" && strings.Contains(r.Error, "connection refused"):
		return fmt.Sprintf("%s: %s — nothing listens on port %d in the container (fix: set route.port to the port the app listens on)", s, r.Error, svc.Route.Port)
	case r.Error != "":
		return fmt.Sprintf("%s: %s", s, r.Error)
	default:
		return fmt.Sprintf("%s: HTTP %d (healthy means 2xx)", s, r.Status)
	}
}

// waitWorker waits for a worker's HEALTHCHECK, or for min_ready of running
// without a restart when it has none.
func waitWorker(ctx context.Context, eng Engine, svc *config.Service, id string) (string, error) {
	deadline := time.Now().Add(svc.Deploy.HealthTimeout + svc.Deploy.MinReady)
	var since time.Time
	restarts := -1
	for {
		ci, err := eng.InspectContainer(ctx, id)
		if err != nil {
			return "", err
		}
		switch {
		case exitedForGood(ci):
			return fmt.Sprintf("the container exited with code %d%s", ci.ExitCode, oom(ci)), errExited
		case ci.Health == "healthy":
			return "HEALTHCHECK: healthy", nil
		case ci.Health == "unhealthy":
			return "HEALTHCHECK: unhealthy: " + ci.HealthLog, fmt.Errorf("unhealthy")
		case ci.Health == "" && ci.Running:
			if ci.RestartCount != restarts {
				restarts, since = ci.RestartCount, time.Now()
			}
			if time.Since(since) >= svc.Deploy.MinReady {
				return fmt.Sprintf("running for %s without a restart", svc.Deploy.MinReady), nil
			}
		}
		if time.Now().After(deadline) {
			if ci.Health != "" {
				return "HEALTHCHECK: " + ci.Health + ": " + ci.HealthLog, fmt.Errorf("timeout")
			}
			return fmt.Sprintf("state %s, %d restarts", ci.Status, ci.RestartCount), fmt.Errorf("timeout")
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return "", err
		}
	}
}
