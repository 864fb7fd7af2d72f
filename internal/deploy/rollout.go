package deploy

import (
	"context"
	"fmt"
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

// current finds the serving release: for a routed service the container the
// proxy routes to, for a worker the newest running release.
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
			name, _, _ := strings.Cut(r.Target, ":")
			for i := range hist {
				if hist[i].Container == name {
					return &hist[i], nil
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
	if cur != nil && cur.Running() && cur.ConfigHash == spec.Labels[release.LabelConfigHash] {
		pr.Step(Event{Host: host, Service: svc.Name, Step: "unchanged", Detail: fmt.Sprintf("release %d (%s) already runs this config", cur.Number, cur.Version)})
		// A worker whose deploy was interrupted before its gate still runs
		// beside the old release: gate it now, before the old one stops.
		if svc.Route == nil && othersRunning(hist, cur.Number) {
			pr.Step(Event{Host: host, Service: svc.Name, Step: "health", Detail: "finishing an interrupted deploy: waiting for " + cur.Container})
			if last, err := d.waitReady(ctx, eng, svc, cur.ContainerID); err != nil {
				logs := failNew(ctx, eng, cur.ContainerID)
				return res, &HealthError{Host: host, Service: svc.Name, Container: cur.Container, Release: cur.Number, Timeout: svc.Deploy.HealthTimeout, LastCheck: last, Logs: logs}
			}
		}
		if err := d.retire(ctx, eng, svc, hist, cur.Number); err != nil {
			return res, err
		}
		res.Action, res.Release, res.Version, res.Container = "unchanged", cur.Number, cur.Version, cur.Container
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
			pr.Step(Event{Host: host, Service: svc.Name, Step: "cleanup", Detail: fmt.Sprintf("removing %s left by an interrupted deploy", r.Container)})
			if err := eng.DiscardContainer(ctx, r.ContainerID); err != nil && !engine.IsNotFound(err) {
				return res, err
			}
			continue
		}
		kept = append(kept, r)
	}
	hist = kept
	pr.Step(Event{Host: host, Service: svc.Name, Step: "create", Detail: fmt.Sprintf("release %d (%s) as %s", n, version, spec.Name)})
	id, err := d.create(ctx, eng, svc, spec)
	if err != nil {
		return res, err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		logs := failNew(ctx, eng, id)
		return res, fmt.Errorf("%w\nlast log lines of %s:\n%s", err, spec.Name, indent(logs))
	}
	res.Action, res.Release, res.Version, res.Container = "deployed", n, version, spec.Name
	if cur != nil {
		res.Previous = cur.Container
	}
	newRel := release.Release{Service: svc.Name, Number: n, Version: version, Container: spec.Name, ContainerID: id}
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
	pr.Step(Event{Host: host, Service: svc.Name, Step: "health", Detail: "waiting for " + rel.Container + " to become healthy"})
	last, err := d.waitReady(ctx, eng, svc, rel.ContainerID)
	if err != nil {
		var logs string
		if rollback {
			cctx, cancel := cleanupCtx(ctx)
			logs, _ = eng.ContainerLogs(cctx, rel.ContainerID, 30)
			_ = eng.StopContainer(cctx, rel.ContainerID, stopTimeout(svc))
			cancel()
		} else {
			logs = failNew(ctx, eng, rel.ContainerID)
		}
		if ctx.Err() != nil {
			what := "removed"
			if rollback {
				what = "stopped again"
			}
			return fmt.Errorf("host %s: service %s: interrupted before the switch; %s was %s and the previous release keeps serving: %w", host, svc.Name, rel.Container, what, ctx.Err())
		}
		pr.Step(Event{Host: host, Service: svc.Name, Step: "failed", Detail: rel.Container + " is not healthy; the previous release keeps serving"})
		if last == "" {
			last = err.Error()
		}
		return &HealthError{Host: host, Service: svc.Name, Container: rel.Container, Release: rel.Number, Timeout: svc.Deploy.HealthTimeout, LastCheck: last, Logs: logs}
	}
	// From here the new release serves: finishing the handover matters more
	// than an interrupt, so it runs to its end, bounded by what it may take.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), svc.Deploy.Drain+stopTimeout(svc)*time.Duration(len(hist)+1)+time.Minute)
	defer cancel()
	if svc.Route != nil {
		pc := ProxyClient(eng)
		key := RouteKey(d.Cfg.App, svc.Name)
		target := routeTarget(rel.Container, svc.Route.Port)
		prev, err := pc.SetRoute(ctx, proxy.Route{Key: key, Hosts: []string{svc.Route.Host}, Target: target,
			Health: &proxy.RouteHealth{Path: svc.Route.Health, IntervalMS: svc.Route.HealthInterval.Milliseconds(), TimeoutMS: svc.Route.HealthRequestTimeout.Milliseconds()}})
		if err != nil {
			// The exec may have failed after the proxy saved the switch:
			// only a route that still points elsewhere lets the new
			// release go. Removing a container the route points at would be
			// an outage.
			if routed, rerr := routesTo(ctx, pc, key, target); rerr != nil || routed {
				return fmt.Errorf("host %s: service %s: switching the route to %s: %w (fix: run `berth status`; if the route points at %s, deploy again to finish the handover)", host, svc.Name, target, err, rel.Container)
			}
			if rollback {
				_ = eng.StopContainer(ctx, rel.ContainerID, stopTimeout(svc))
			} else {
				failNew(ctx, eng, rel.ContainerID)
			}
			return fmt.Errorf("host %s: service %s: switching the route to %s failed; the previous release keeps serving: %w", host, svc.Name, target, err)
		}
		pr.Step(Event{Host: host, Service: svc.Name, Step: "switch", Detail: fmt.Sprintf("%s now routes to %s", svc.Route.Host, target)})
		if prev != "" && prev != target {
			pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: fmt.Sprintf("draining %s (up to %s)", prev, svc.Deploy.Drain)})
			if _, err := pc.Drain(ctx, prev, svc.Deploy.Drain); err != nil {
				// Traffic already moved; stopping the old release is still
				// right, it only loses the wait for its last requests.
				pr.Step(Event{Host: host, Service: svc.Name, Step: "drain", Detail: "drain failed, stopping the old release anyway: " + err.Error()})
			}
		}
	}
	return d.retire(ctx, eng, svc, hist, rel.Number)
}

// routesTo reports whether the proxy's route key points at target.
func routesTo(ctx context.Context, pc *proxy.Client, key, target string) (bool, error) {
	routes, err := pc.Routes(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range routes {
		if r.Key == key {
			return r.Target == target, nil
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
		pr.Step(Event{Host: eng.Host(), Service: svc.Name, Step: "stop", Detail: fmt.Sprintf("stopping %s (kept for rollback)", r.Container)})
		if err := eng.StopContainer(ctx, r.ContainerID, stopTimeout(svc)); err != nil && !engine.IsNotFound(err) {
			return err
		}
	}
	kept := 0
	for i := len(hist) - 1; i >= 0; i-- {
		r := hist[i]
		if r.Number == keep {
			continue
		}
		kept++
		if kept > svc.Deploy.Keep {
			pr.Step(Event{Host: eng.Host(), Service: svc.Name, Step: "prune", Detail: fmt.Sprintf("removing %s (beyond keep: %d)", r.Container, svc.Deploy.Keep)})
			if err := eng.RemoveContainer(ctx, r.ContainerID, true); err != nil && !engine.IsNotFound(err) {
				return err
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
