package release

import (
	"fmt"
	"sort"
	"strconv"
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

// Release is one container of a service, as read back from the engine.
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
	// Current is set by the caller that knows what serves (the proxy's
	// route for web services, the running container for workers).
	Current bool `json:"current"`
}

// Running reports whether the release's container runs.
func (r Release) Running() bool { return r.State == "running" || r.State == "restarting" }

// FromContainers groups app containers into per-service histories, each
// sorted by release number, newest last. Containers without a readable
// release number are not releases and are skipped.
func FromContainers(cs []engine.ContainerSummary) map[string][]Release {
	out := map[string][]Release{}
	for _, c := range cs {
		if c.Labels[LabelRole] != RoleApp {
			continue
		}
		n, err := strconv.Atoi(c.Labels[LabelRelease])
		if err != nil {
			continue
		}
		svc := c.Labels[LabelService]
		out[svc] = append(out[svc], Release{
			Service: svc, Number: n, Version: c.Labels[LabelVersion], Image: c.Image,
			Container: c.Name, ContainerID: c.ID, State: c.State, Status: c.Status,
			ConfigHash: c.Labels[LabelConfigHash], Created: c.Created,
		})
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Number < rs[j].Number })
	}
	return out
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
