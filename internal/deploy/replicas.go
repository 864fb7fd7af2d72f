package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/release"
)

// A release of a service is deploy.replicas containers per host, created,
// gated, switched, stopped and pruned together: what holds for one
// container of a release holds for all of them.

// replicaSpecs makes the containers of release n from the spec of its
// first: each its own name and replica label. The count joins the config
// hash only when it is more than one, so a service of one replica keeps
// the hash it had before replicas and an upgraded berth finds it unchanged;
// a new count is a new release, rolled out like any other change.
func replicaSpecs(app string, svc *config.Service, spec engine.ContainerSpec, n int) []engine.ContainerSpec {
	count := svc.Replicas()
	hash := spec.Labels[release.LabelConfigHash]
	if count > 1 {
		sum := sha256.Sum256([]byte(hash + "/replicas=" + strconv.Itoa(count)))
		hash = hex.EncodeToString(sum[:])[:16]
	}
	specs := make([]engine.ContainerSpec, count)
	for i := range specs {
		s := spec
		s.Labels = maps.Clone(spec.Labels)
		s.Labels[release.LabelConfigHash] = hash
		s.Labels[release.LabelReplica] = strconv.Itoa(i + 1)
		s.Labels[release.LabelReplicas] = strconv.Itoa(count)
		s.Name = release.ReplicaName(app, svc.Name, n, i+1)
		specs[i] = s
	}
	return specs
}

// createReplicas creates and starts every container of a new release. If
// one fails, those already made are removed: a release is all its
// replicas or nothing.
func (d *Deployer) createReplicas(ctx context.Context, eng Engine, svc *config.Service, specs []engine.ContainerSpec) (release.Release, error) {
	first := specs[0]
	n, _ := strconv.Atoi(first.Labels[release.LabelRelease])
	rel := release.Release{Service: svc.Name, Number: n, Version: first.Labels[release.LabelVersion],
		ConfigHash: first.Labels[release.LabelConfigHash], Replicas: len(specs)}
	for i, spec := range specs {
		id, err := d.create(ctx, eng, svc, spec)
		if err == nil {
			if err = eng.StartContainer(ctx, id); err != nil {
				err = fmt.Errorf("%w\nlast log lines of %s:\n%s", err, spec.Name, indent(failNew(ctx, eng, id)))
			}
		}
		if err != nil {
			discardRelease(ctx, eng, rel)
			return rel, err
		}
		rel.Containers = append(rel.Containers, release.Replica{Replica: i + 1, Container: spec.Name, ContainerID: id, State: "running"})
	}
	rel.Container, rel.ContainerID, rel.State = first.Name, rel.Containers[0].ContainerID, "running"
	return rel, nil
}

// discardRelease removes every container of a release that never served,
// with its anonymous volumes.
func discardRelease(ctx context.Context, eng Engine, rel release.Release) {
	cctx, cancel := cleanupCtx(ctx)
	defer cancel()
	for _, c := range rel.Containers {
		_ = eng.DiscardContainer(cctx, c.ContainerID)
	}
}

// stopRelease stops every container of a release, side by side: each
// gets its full stop_grace_period, and N replicas take the time of one.
// Each is stopped whatever state the release was read in (stopping a
// stopped container changes nothing): a rollback target read as exited may
// have been started since.
func stopRelease(ctx context.Context, eng Engine, svc *config.Service, rel release.Release) error {
	errs := make([]error, len(rel.Containers))
	var wg sync.WaitGroup
	for i, c := range rel.Containers {
		wg.Go(func() {
			if err := eng.StopContainer(ctx, c.ContainerID, stopTimeout(svc)); err != nil && !engine.IsNotFound(err) {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startRelease starts the stopped containers of a kept release (a
// rollback). A release that lost a replica is not brought back short of
// capacity: the fix is a deploy, which makes a complete one.
func startRelease(ctx context.Context, eng Engine, svc *config.Service, rel release.Release) error {
	if missing := rel.Missing(); len(missing) > 0 {
		return fmt.Errorf("host %s: release %d of %s was deployed with %d replicas and replica %s no longer exists (fix: roll back to another release, or deploy version %s again)",
			eng.Host(), rel.Number, svc.Name, rel.Replicas, joinInts(missing), rel.Version)
	}
	var started []release.Replica
	for _, c := range rel.Containers {
		if c.Running() {
			continue
		}
		if err := eng.StartContainer(ctx, c.ContainerID); err != nil {
			// Those already started go back to stopped: the release
			// stays as it was kept.
			cctx, cancel := cleanupCtx(ctx)
			for _, s := range started {
				_ = eng.StopContainer(cctx, s.ContainerID, stopTimeout(svc))
			}
			cancel()
			return fmt.Errorf("host %s: starting %s: %w", eng.Host(), c.Container, err)
		}
		started = append(started, c)
	}
	return nil
}

// routeTargets are the proxy targets of a release's replicas.
func routeTargets(rel release.Release, port int) []string {
	out := make([]string, 0, len(rel.Containers))
	for _, c := range rel.Containers {
		out = append(out, routeTarget(c.Container, port))
	}
	return out
}

// replicaNames lists a release's containers for progress lines.
func replicaNames(rel release.Release) string {
	names := make([]string, 0, len(rel.Containers))
	for _, c := range rel.Containers {
		names = append(names, c.Container)
	}
	return strings.Join(names, ", ")
}

// readyResult is the health verdict of one replica.
type readyResult struct {
	replica release.Replica
	last    string
	err     error
}

// waitAllReady gates every replica of a release at once, each as
// waitReady does one. The first that fails ends the wait for the others: a
// release serves whole or not at all. It returns the first failed replica's
// result, or the last healthy one's, once every wait has returned.
func (d *Deployer) waitAllReady(ctx context.Context, eng Engine, svc *config.Service, rel release.Release) readyResult {
	if len(rel.Containers) == 1 {
		last, err := d.waitReady(ctx, eng, svc, rel.Containers[0].ContainerID)
		return readyResult{rel.Containers[0], last, err}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan readyResult, len(rel.Containers))
	for _, c := range rel.Containers {
		go func() {
			last, err := d.waitReady(ctx, eng, svc, c.ContainerID)
			results <- readyResult{c, last, err}
		}()
	}
	var ok, failed readyResult
	for range rel.Containers {
		r := <-results
		if r.err != nil && failed.err == nil {
			failed = r
			cancel() // the others return at once; their verdicts no longer matter
		}
		ok = r
	}
	if failed.err != nil {
		return failed
	}
	return ok
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
