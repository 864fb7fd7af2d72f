package release

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/engine"
)

// Labels berth puts on everything it creates on a host.
const (
	LabelManaged    = "berth.managed" // "true" on every berth object
	LabelApp        = "berth.app"
	LabelService    = "berth.service"
	LabelRelease    = "berth.release" // monotonic release number
	LabelVersion    = "berth.version" // --version, image tag or digest
	LabelConfigHash = "berth.config-hash"
	LabelRole       = "berth.role" // app, accessory, proxy, lock
	LabelVolume     = "berth.volume"
	// LabelReplica numbers a container within its release (1..N) and
	// LabelReplicas says how many the release was created with, so a
	// release that lost one is told from a smaller one. Containers from
	// before replicas have neither: they are replica 1 of 1.
	LabelReplica  = "berth.replica"
	LabelReplicas = "berth.replicas"
)

// Roles of berth containers.
const (
	RoleApp       = "app"
	RoleAccessory = "accessory"
	RoleProxy     = "proxy"
	RoleLock      = "lock"
)

// ContainerName is the name of release n of a service: it shows app,
// service and release at a glance in `docker ps`.
func ContainerName(app, service string, n int) string {
	return fmt.Sprintf("%s-%s-%d", app, service, n)
}

// ReplicaName is the name of replica i of release n. Replica 1 keeps the
// release's own name, so a service of one replica is named as before
// replicas and deployments from then are recognised. The others get
// "-r<i>": a bare "-<i>" would collide with release names of a service whose
// own name ends in "-<digits>" ("web" release 1 replica 3 and "web-1"
// release 3 would both be "app-web-1-3").
func ReplicaName(app, service string, n, i int) string {
	if i <= 1 {
		return ContainerName(app, service, n)
	}
	return fmt.Sprintf("%s-%s-%d-r%d", app, service, n, i)
}

// AccessoryName is the name of an accessory's single container.
func AccessoryName(app, service string) string {
	return fmt.Sprintf("%s-%s", app, service)
}

// AppLabels are the labels of release n of a service.
func AppLabels(app, service string, n int, version, hash string) map[string]string {
	return map[string]string{
		LabelManaged:    "true",
		LabelApp:        app,
		LabelService:    service,
		LabelRelease:    strconv.Itoa(n),
		LabelVersion:    version,
		LabelConfigHash: hash,
		LabelRole:       RoleApp,
	}
}

// Release is one release of a service on a host, as read back from the
// engine: its replicas' containers (one before replicas existed).
// Container, ContainerID and Status are those of its first replica, as
// they were when a release was one container; State sums up all of them.
type Release struct {
	Service     string    `json:"service"`
	Number      int       `json:"release"`
	Version     string    `json:"version"`
	Image       string    `json:"image"`
	Container   string    `json:"container"`
	ContainerID string    `json:"container_id"`
	State       string    `json:"state"`
	Status      string    `json:"status"`
	ConfigHash  string    `json:"config_hash"`
	Created     time.Time `json:"created"`
	// Replicas is how many containers the release was created with;
	// Containers are those that still exist, by replica number.
	Replicas   int       `json:"replicas"`
	Containers []Replica `json:"containers,omitempty"`
	// Current is set by the caller that knows what serves (the proxy's
	// route for web services, the running container for workers).
	Current bool `json:"current"`
}

// Replica is one container of a release.
type Replica struct {
	Replica     int    `json:"replica"`
	Container   string `json:"container"`
	ContainerID string `json:"container_id"`
	State       string `json:"state"`
	Status      string `json:"status"`
}

// Running reports whether the replica's container runs.
func (r Replica) Running() bool { return r.State == "running" || r.State == "restarting" }

// Running reports whether any of the release's containers runs.
func (r Release) Running() bool {
	if len(r.Containers) == 0 {
		return r.State == "running" || r.State == "restarting"
	}
	for _, c := range r.Containers {
		if c.Running() {
			return true
		}
	}
	return false
}

// Complete reports whether every replica the release was created with
// still exists.
func (r Release) Complete() bool { return len(r.Containers) >= max(r.Replicas, 1) }

// AllRunning reports whether the release is complete and every one of its
// containers runs.
func (r Release) AllRunning() bool {
	if !r.Complete() {
		return false
	}
	for _, c := range r.Containers {
		if !c.Running() {
			return false
		}
	}
	return true
}

// Missing lists the replica numbers of the release that no longer exist.
func (r Release) Missing() []int {
	var out []int
	for i := 1; i <= r.Replicas; i++ {
		if !slices.ContainsFunc(r.Containers, func(c Replica) bool { return c.Replica == i }) {
			out = append(out, i)
		}
	}
	return out
}

// summarize fills the release's first-replica fields and its State from
// its containers: one state when they agree, counts when they do not
// ("2 running, 1 exited").
func (r *Release) summarize() {
	sort.Slice(r.Containers, func(i, j int) bool { return r.Containers[i].Replica < r.Containers[j].Replica })
	first := r.Containers[0]
	r.Container, r.ContainerID, r.Status = first.Container, first.ContainerID, first.Status
	counts := map[string]int{}
	var states []string
	for _, c := range r.Containers {
		if counts[c.State] == 0 {
			states = append(states, c.State)
		}
		counts[c.State]++
	}
	if len(states) == 1 {
		r.State = states[0]
		return
	}
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = fmt.Sprintf("%d %s", counts[st], st)
	}
	r.State = strings.Join(parts, ", ")
}

// FromContainers groups app containers into per-service histories of
// releases, each release holding its replicas, sorted by release number,
// newest last. Containers without a readable release number are not
// releases and are skipped.
func FromContainers(cs []engine.ContainerSummary) map[string][]Release {
	type key struct {
		svc string
		n   int
	}
	byKey := map[key]*Release{}
	for _, c := range cs {
		if c.Labels[LabelRole] != RoleApp {
			continue
		}
		n, err := strconv.Atoi(c.Labels[LabelRelease])
		if err != nil {
			continue
		}
		svc := c.Labels[LabelService]
		r := byKey[key{svc, n}]
		if r == nil {
			r = &Release{
				Service: svc, Number: n, Version: c.Labels[LabelVersion], Image: c.Image,
				ConfigHash: c.Labels[LabelConfigHash], Created: c.Created,
				Replicas: labelInt(c.Labels, LabelReplicas),
			}
			byKey[key{svc, n}] = r
		}
		r.Containers = append(r.Containers, Replica{
			Replica: labelInt(c.Labels, LabelReplica), Container: c.Name, ContainerID: c.ID, State: c.State, Status: c.Status,
		})
		if c.Created.Before(r.Created) {
			r.Created = c.Created
		}
	}
	out := map[string][]Release{}
	for k, r := range byKey {
		r.summarize()
		out[k.svc] = append(out[k.svc], *r)
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Number < rs[j].Number })
	}
	return out
}

// labelInt reads a positive count label; absent or unreadable is 1, what
// every container was before replicas.
func labelInt(labels map[string]string, key string) int {
	if n, err := strconv.Atoi(labels[key]); err == nil && n > 0 {
		return n
	}
	return 1
}

// Next is the number the next release of a service gets.
func Next(history []Release) int {
	n := 0
	for _, r := range history {
		n = max(n, r.Number)
	}
	return n + 1
}

// Find returns the release with number n.
func Find(history []Release, n int) (Release, bool) {
	for _, r := range history {
		if r.Number == n {
			return r, true
		}
	}
	return Release{}, false
}
