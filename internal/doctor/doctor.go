// Package doctor answers "is this setup ready for production?": for the
// questions a team must answer before running Docker in production, a
// verdict (ready, not yet, unknown) with the evidence and the berth command
// that closes the gap, then an overall verdict and the top blockers. It
// reads an audit report and what berth knows of the app's releases; it never
// makes up a pass: what berth cannot see yet is "unknown", with the reason.
package doctor

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/berthhq/berth/internal/audit"
	"github.com/berthhq/berth/internal/policy"
	"github.com/berthhq/berth/internal/release"
)

// Verdict answers one question.
type Verdict string

// Verdicts.
const (
	Ready   Verdict = "ready"
	NotYet  Verdict = "not yet"
	Unknown Verdict = "unknown"
)

// Answer is one question's answer.
type Answer struct {
	ID       string   `json:"id"`
	Question string   `json:"question"`
	Verdict  Verdict  `json:"verdict"`
	Evidence []string `json:"evidence"`
	// Next is the berth command (or step) that closes the gap.
	Next string `json:"next,omitempty"`
}

// Blocker is one failing check, in the order to fix them.
type Blocker struct {
	Check    string          `json:"check"`
	Severity policy.Severity `json:"severity"`
	Where    string          `json:"where"`
	What     string          `json:"what"`
	Fix      string          `json:"fix"`
}

// Report is the readiness report.
type Report struct {
	Hosts    []string  `json:"hosts"`
	Overall  Verdict   `json:"overall"`
	Summary  string    `json:"summary"`
	Answers  []Answer  `json:"answers"`
	Blockers []Blocker `json:"blockers"`
	// Incomplete is what the audit could not check.
	Incomplete []string `json:"incomplete,omitempty"`
}

// Facts is what the doctor reads besides the audit.
type Facts struct {
	// Config is "" when there is no berth.yaml; else its path.
	Config string
	// Tracked says whether berth.yaml is in version control (git).
	Tracked bool
	// App, when berth.yaml names one.
	App string
	// Services are the app's services that deploys replace (web and
	// worker; not accessories).
	Services []string
	// Releases per host, per service (release.FromContainers).
	Releases map[string]map[string][]release.Release
	// OneEngine: the doctor examined one engine given with -H, not
	// berth.yaml's hosts.
	OneEngine bool
}

// Diagnose builds the report.
func Diagnose(rep audit.Report, f Facts) Report {
	idx := index(rep.Results)
	idx.containersRead = rep.Containers != nil
	for _, n := range rep.Containers {
		idx.containers += n
	}
	for _, s := range rep.Incomplete {
		if strings.Contains(s, "containers could not be checked") {
			idx.containersRead = false
		}
	}
	out := Report{Hosts: rep.Hosts, Incomplete: rep.Incomplete}
	out.Answers = []Answer{
		monitoring(idx),
		deploys(f),
		backups(),
		updates(idx),
		reach(idx),
		hostAccess(idx),
		privileges(idx),
		logs(idx),
		registry(idx),
		engineDefaults(idx),
	}
	out.Blockers = blockers(rep.Results)
	notYet, unknown := 0, 0
	for _, a := range out.Answers {
		switch a.Verdict {
		case NotYet:
			notYet++
		case Unknown:
			unknown++
		}
	}
	switch {
	case notYet > 0:
		out.Overall = NotYet
		out.Summary = fmt.Sprintf("not ready for production yet: %d of %d answers are \"not yet\"; fix the blockers below in order", notYet, len(out.Answers))
	case unknown > 0:
		out.Overall = Unknown
		out.Summary = fmt.Sprintf("nothing berth can see blocks production, but %d of %d answers are unknown: answer those yourself", unknown, len(out.Answers))
	default:
		out.Overall = Ready
		out.Summary = "ready for production, as far as every question here goes"
	}
	if len(rep.Incomplete) > 0 && out.Overall == Ready {
		out.Overall = Unknown
		out.Summary = "parts of the audit could not be made: " + strings.Join(rep.Incomplete, "; ")
	}
	return out
}

// results by check ID, and whether the hosts run no container at all.
type results struct {
	byID map[string][]audit.Result
	// containersRead: every host's containers were read; containers: how
	// many were judged.
	containersRead bool
	containers     int
}

func index(rs []audit.Result) *results {
	m := &results{byID: map[string][]audit.Result{}}
	for _, r := range rs {
		m.byID[r.ID] = append(m.byID[r.ID], r)
	}
	return m
}

// bad returns the fails and warnings of the given checks, as evidence.
func (idx *results) bad(ids ...string) (fails, warns []string) {
	for _, id := range ids {
		for _, r := range idx.byID[id] {
			line := r.Host
			if r.Target != "" {
				line += "/" + r.Target
			}
			line += ": " + id + ": " + r.Evidence
			switch r.Status {
			case audit.Fail:
				fails = append(fails, line)
			case audit.Warn:
				warns = append(warns, line)
			}
		}
	}
	return fails, warns
}

// passed says whether every one of the checks ran somewhere and passed
// everywhere it ran: a claim of "ready" needs that, not the absence of a
// failure.
func (idx *results) passed(ids ...string) bool {
	for _, id := range ids {
		rs := idx.byID[id]
		if len(rs) == 0 {
			return false
		}
		for _, r := range rs {
			if r.Status != audit.Pass {
				return false
			}
		}
	}
	return true
}

// seen says whether any of the checks ran (was not skipped) somewhere.
func (idx *results) seen(ids ...string) bool {
	for _, id := range ids {
		for _, r := range idx.byID[id] {
			if r.Status != audit.Skipped {
				return true
			}
		}
	}
	return false
}

func (idx *results) count(id string, st audit.Status) int {
	n := 0
	for _, r := range idx.byID[id] {
		if r.Status == st {
			n++
		}
	}
	return n
}

// limit keeps evidence readable: the first n lines and how many more.
func limit(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(slices.Clone(lines[:n]), fmt.Sprintf("... and %d more (berth audit lists them all)", len(lines)-n))
}

func monitoring(idx *results) Answer {
	a := Answer{ID: "monitoring", Question: "How are containers monitored, and who is alerted when one fails?", Verdict: Unknown,
		Next: "until berth's metrics and alerts land, wire the engine's metrics (berth setup puts them on 127.0.0.1:9323) into your monitoring"}
	a.Evidence = append(a.Evidence, "berth does not collect metrics or send alerts yet (a later berth release brings them), so it cannot tell what watches these containers")
	if n := idx.count("no-healthcheck", audit.Warn) + idx.count("no-healthcheck", audit.Fail); n > 0 {
		a.Evidence = append(a.Evidence, fmt.Sprintf("%d containers have no health check, so a hung process looks alive to any monitor", n))
	}
	return a
}

func deploys(f Facts) Answer {
	a := Answer{ID: "deploys", Question: "How do deploys happen: automated, from version-controlled config, with zero downtime and a rollback ready?"}
	if f.Config == "" && f.OneEngine {
		a.Verdict = Unknown
		a.Evidence = []string{"one engine was examined (-H): deploys are judged from berth.yaml's app and hosts"}
		a.Next = "run berth doctor without -H, next to berth.yaml"
		return a
	}
	if f.Config == "" {
		a.Verdict = NotYet
		a.Evidence = []string{"no berth.yaml here: deploys are not described by configuration berth can see"}
		a.Next = "write berth.yaml next to compose.yaml (see README.md) and deploy with `berth deploy`"
		return a
	}
	a.Evidence = append(a.Evidence, "deploys are described by "+f.Config+" and made by `berth deploy`: health-gated, zero-downtime switch through berth-proxy")
	ready := true
	if f.Tracked {
		a.Evidence = append(a.Evidence, f.Config+" is tracked by git")
	} else {
		ready = false
		a.Evidence = append(a.Evidence, f.Config+" is not tracked by git (or this is not a git repository): the config is not version-controlled")
		a.Next = "git add berth.yaml compose.yaml && git commit"
	}
	hosts := make([]string, 0, len(f.Releases))
	for h := range f.Releases {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		for _, svc := range f.Services {
			rs := f.Releases[h][svc]
			switch {
			case len(rs) == 0:
				ready = false
				a.Evidence = append(a.Evidence, fmt.Sprintf("host %s: service %s has never been deployed", h, svc))
				if a.Next == "" {
					a.Next = "berth deploy"
				}
			case len(rs) == 1:
				ready = false
				a.Evidence = append(a.Evidence, fmt.Sprintf("host %s: service %s has one release and none kept to roll back to", h, svc))
				if a.Next == "" {
					a.Next = "deploy once more (berth deploy): the previous release is kept for `berth rollback`"
				}
			default:
				a.Evidence = append(a.Evidence, fmt.Sprintf("host %s: service %s has %d releases; `berth rollback` can bring back release %d", h, svc, len(rs), rs[len(rs)-2].Number))
			}
		}
	}
	if len(hosts) == 0 {
		ready = false
		a.Evidence = append(a.Evidence, "no host could be asked for the app's releases")
	}
	a.Verdict = NotYet
	if ready {
		a.Verdict = Ready
	}
	return a
}

func backups() Answer {
	return Answer{ID: "backups", Question: "How are backups taken, and when was a restore last proven?", Verdict: Unknown,
		Evidence: []string{"berth does not take or verify backups yet (a later berth release brings encrypted, restore-tested backups), so it cannot tell"},
		Next:     "until then, back up named volumes yourself and test a restore"}
}

func updates(idx *results) Answer {
	a := Answer{ID: "updates", Question: "How do updates reach the engine, the kernel and the images?"}
	fails, warns := idx.bad("engine-version", "engine-kernel", "image-age")
	a.Evidence = limit(append(fails, warns...), 8)
	switch {
	case !idx.seen("engine-version", "engine-kernel", "image-age"):
		a.Verdict, a.Evidence = Unknown, []string{"the engine and images could not be read"}
	case len(fails) > 0:
		a.Verdict, a.Next = NotYet, "upgrade what is past its end of life, rebuild old images, and redeploy them with berth deploy"
	case len(warns) > 0:
		a.Verdict, a.Next = NotYet, "plan the upgrades listed before they fall out of support"
	case idx.passed("engine-version", "engine-kernel", "image-age"):
		a.Verdict = Ready
		a.Evidence = []string{"the engine release is maintained, the kernel is outside the known-bad ranges, and no image is older than 90 days"}
	default:
		a.Verdict = Unknown
		a.Evidence = append(a.Evidence, "berth could not confirm every part: the engine release is newer than its table, the kernel is a distribution's (check its advisories), or there are no images to judge")
	}
	return a
}

func reach(idx *results) Answer {
	a := Answer{ID: "network", Question: "What services and networks can each container reach?"}
	fails, warns := idx.bad("engine-icc", "host-network", "port-all-interfaces")
	a.Evidence = limit(append(fails, warns...), 8)
	switch {
	case !idx.seen("engine-icc"):
		a.Verdict = Unknown
		a.Evidence = append(a.Evidence, "the default bridge could not be read")
	case len(fails)+len(warns) > 0:
		a.Verdict, a.Next = NotYet, "berth setup --yes --restart (icc off); drop network_mode: host; publish ports on an address, or route them through berth-proxy"
	case idx.passed("engine-icc") && idx.containersRead:
		a.Verdict = Ready
		a.Evidence = []string{"containers on the default bridge cannot reach each other (icc off), none uses the host's network, and no port is published on every interface; berth's apps reach only their own network and berth-proxy"}
	default:
		a.Verdict = Unknown
		a.Evidence = append(a.Evidence, "the containers could not all be read")
	}
	return a
}

var hostRules = []string{"privileged", "docker-socket", "sensitive-mount", "host-pid", "host-ipc", "host-network", "host-userns", "devices", "systempaths-unconfined"}

func hostAccess(idx *results) Answer {
	a := Answer{ID: "host-access", Question: "How is access to the host restricted: mounts, namespaces, the Docker socket?"}
	fails, warns := idx.bad(append(slices.Clone(hostRules), "engine-authz", "host-docker-socket-mode", "host-docker-socket-owner", "engine-api-tls", "host-tcp-tls")...)
	a.Evidence = limit(append(fails, warns...), 10)
	switch {
	case len(fails) > 0:
		a.Verdict, a.Next = NotYet, "remove the privileges listed (berth policy explain RULE says how), and put berth guard in front of the engine: berth guard install"
	case len(warns) > 0:
		a.Verdict, a.Next = NotYet, "berth guard install: without an authorization plugin anyone with the socket can run a privileged container"
	case idx.passed("engine-authz", "engine-api-tls") && idx.containersRead:
		a.Verdict = Ready
		a.Evidence = []string{fmt.Sprintf("none of the %d containers is privileged, mounts the socket or a sensitive host path, or shares a host namespace; the engine is guarded and its API is not on plain TCP", idx.containers)}
	default:
		a.Verdict = Unknown
		a.Evidence = append(a.Evidence, "berth could not confirm every part: the containers, the authorization plugin or the API's listeners could not all be read")
	}
	return a
}

func privileges(idx *results) Answer {
	a := Answer{ID: "privileges", Question: "What privileges do the containers hold?"}
	ids := []string{"dangerous-capabilities", "added-capabilities", "capabilities-not-dropped", "root-user", "no-new-privileges", "seccomp-unconfined", "apparmor-unconfined", "selinux-disabled", "writable-rootfs"}
	fails, warns := idx.bad(ids...)
	a.Evidence = limit(append(fails, warns...), 10)
	switch {
	case !idx.containersRead:
		a.Verdict = Unknown
		a.Evidence = []string{"the containers could not all be read"}
	case idx.containers == 0:
		a.Verdict = Ready
		a.Evidence = []string{"no container runs on these hosts"}
	case len(fails) > 0:
		a.Verdict, a.Next = NotYet, "drop the capabilities and confinement overrides listed; berth deploy refuses them by default"
	case len(warns) > 0:
		a.Verdict, a.Next = NotYet, "tighten: user: 10001, cap_drop: [ALL], read_only: true, security_opt: [no-new-privileges:true] (berth policy check shows each service)"
	default:
		a.Verdict = Ready
		a.Evidence = []string{fmt.Sprintf("the %d containers run as non-root users with capabilities dropped, read-only root filesystems and no-new-privileges", idx.containers)}
	}
	return a
}

func logs(idx *results) Answer {
	a := Answer{ID: "logs", Question: "Are logs rotated, and collected somewhere they survive the host?"}
	fails, warns := idx.bad("host-log-rotation", "no-log-rotation", "engine-log-driver")
	a.Evidence = limit(append(fails, warns...), 8)
	switch {
	case len(fails)+len(warns) > 0:
		a.Verdict, a.Next = NotYet, "berth setup --yes --restart (log-driver local, rotated); containers created before keep their own settings until redeployed"
	default:
		a.Verdict = Unknown
		if idx.passed("host-log-rotation") || idx.passed("engine-log-driver") {
			a.Evidence = append(a.Evidence, "logs are rotated")
		} else {
			a.Evidence = append(a.Evidence, "whether logs are rotated by default is in daemon.json, which berth reads only when it runs on the host")
		}
		a.Evidence = append(a.Evidence, "berth does not collect logs yet (a later release brings it), so where they are kept beyond the host is unknown")
		a.Next = "ship them (journald, fluentd, gelf) until berth collects them"
	}
	return a
}

func registry(idx *results) Answer {
	a := Answer{ID: "registry", Question: "Is the private registry TLS-only, with authentication?"}
	fails, warns := idx.bad("engine-insecure-registries", "host-insecure-registries")
	a.Evidence = limit(append(fails, warns...), 6)
	switch {
	case !idx.seen("engine-insecure-registries"):
		a.Verdict = Unknown
		a.Evidence = []string{"the engine's registry settings could not be read"}
	case len(fails)+len(warns) > 0:
		a.Verdict, a.Next = NotYet, "serve the registry over TLS and remove it from insecure-registries in daemon.json"
	default:
		a.Verdict = Ready
		a.Evidence = []string{"the engine talks to registries over TLS only (no insecure registry or plain-HTTP mirror)", "whether the registry requires authentication is not visible from the engine: check that anonymous pushes are refused"}
	}
	return a
}

func engineDefaults(idx *results) Answer {
	a := Answer{ID: "engine-defaults", Question: "Were the engine's defaults tuned for production?"}
	ids := []string{"engine-live-restore", "engine-icc", "host-no-new-privileges", "host-userland-proxy", "host-log-rotation", "engine-storage-driver"}
	fails, warns := idx.bad(ids...)
	a.Evidence = limit(append(fails, warns...), 8)
	switch {
	case len(fails)+len(warns) > 0:
		a.Verdict, a.Next = NotYet, "berth setup (shows the daemon.json change), then berth setup --yes --restart"
	case !idx.passed("engine-live-restore", "engine-icc"):
		a.Verdict = Unknown
		a.Evidence = append(a.Evidence, "live-restore and icc could not be confirmed")
	case !idx.passed("host-no-new-privileges", "host-userland-proxy", "host-log-rotation"):
		a.Verdict = Unknown
		a.Evidence = append(a.Evidence, "live-restore and icc are as they should be; the settings only daemon.json shows need berth to run on the host (berth doctor there)")
	default:
		a.Verdict = Ready
		a.Evidence = []string{"live-restore, icc off, no-new-privileges, userland-proxy off and log rotation are set"}
	}
	return a
}

// blockers are the failing checks, most severe first, one line per check
// and place, at most 10.
func blockers(rs []audit.Result) []Blocker {
	var out []Blocker
	seen := map[string]bool{}
	for _, r := range rs {
		if r.Status != audit.Fail {
			continue
		}
		where := r.Host
		if r.Target != "" {
			where += "/" + r.Target
		}
		key := r.ID + " " + where
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, Blocker{Check: r.ID, Severity: r.Severity, Where: where, What: r.Evidence, Fix: r.Fix})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity > out[j].Severity })
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}
