package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/policy"
)

// Source is what the audit needs from a host.
type Source interface {
	Host() string
	ListContainers(ctx context.Context, labels map[string]string) ([]engine.ContainerSummary, error)
	InspectContainerJSON(ctx context.Context, idOrName string) ([]byte, error)
	Endpoint() string
	UsesTLS() bool
	InfoJSON(ctx context.Context) ([]byte, error)
	NetworkJSON(ctx context.Context, name string) ([]byte, error)
	ImageListJSON(ctx context.Context, all bool) ([]byte, error)
	ImageJSON(ctx context.Context, ref string) ([]byte, error)
	ImageHistoryJSON(ctx context.Context, ref string) ([]byte, error)
}

// Options select what an audit runs.
type Options struct {
	Areas   []Area // empty: every area
	Policy  policy.Policy
	Exclude []string // containers left out: a name, or a label as key=value
	Now     time.Time
	// Parallel bounds the engine calls in flight per host (inspecting
	// 500 containers one by one is slow; all at once floods the engine).
	Parallel int
	// HostRoot is where the host checks read files ("/" on the host).
	HostRoot string
	// Deep reads every image's filesystem (docker save) for setuid and
	// setgid files: thorough, and as slow as the images are big.
	Deep bool
}

// Report is a whole audit: every result, hosts in order.
type Report struct {
	Hosts   []string `json:"hosts"`
	Results []Result `json:"results"`
	// Incomplete lists what could not be checked and why (a host that
	// stopped answering, an endpoint that refused): the report is still
	// everything else.
	Incomplete []string `json:"incomplete,omitempty"`
	// Containers is how many containers were judged per host (a container
	// without findings has no result, so this says it was seen).
	Containers map[string]int `json:"containers,omitempty"`
}

func (o Options) wants(a Area) bool { return len(o.Areas) == 0 || slices.Contains(o.Areas, a) }

// Run audits every host, hosts at once and each host's engine calls
// bounded by o.Parallel.
func Run(ctx context.Context, hosts []Source, o Options) Report {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	reports := make([]Report, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { reports[i] = auditHost(ctx, h, o) })
	}
	wg.Wait()
	var out Report
	for i, r := range reports {
		out.Hosts = append(out.Hosts, hosts[i].Host())
		if r.Containers != nil {
			if out.Containers == nil {
				out.Containers = map[string]int{}
			}
			out.Containers[hosts[i].Host()] = r.Containers[hosts[i].Host()]
		}
		out.Results = append(out.Results, r.Results...)
		out.Incomplete = append(out.Incomplete, r.Incomplete...)
	}
	return out
}

func auditHost(ctx context.Context, h Source, o Options) Report {
	var r Report
	host := h.Host()
	lost := func(what string, err error) {
		r.Incomplete = append(r.Incomplete, fmt.Sprintf("host %s: %s could not be checked: %v", host, what, err))
	}
	var info []byte
	if o.wants(AreaEngine) || o.wants(AreaHost) || o.wants(AreaContainers) {
		var err error
		if info, err = h.InfoJSON(ctx); err != nil {
			info = nil
			lost("the engine and host settings", err)
		}
	}
	if o.wants(AreaEngine) {
		if info == nil {
			for _, c := range EngineChecks() {
				r.Results = append(r.Results, c.Skip(host, "the engine did not answer GET /info"))
			}
		} else {
			bridge, err := h.NetworkJSON(ctx, "bridge")
			if err != nil {
				bridge = nil // the check says it was skipped
			}
			r.Results = append(r.Results, AuditEngine(EngineFacts{Host: host, Info: info, Bridge: bridge, Endpoint: h.Endpoint(), TLS: h.UsesTLS(), Now: o.Now})...)
		}
	}
	if o.wants(AreaHost) {
		var doc struct{ DockerRootDir string }
		_ = json.Unmarshal(info, &doc)
		local, socket := localSocket(h.Endpoint())
		r.Results = append(r.Results, AuditHost(HostFacts{Host: host, Local: local, Root: o.HostRoot, DataRoot: doc.DockerRootDir, Socket: socket})...)
	}
	if o.wants(AreaContainers) {
		var doc struct{ CgroupVersion string }
		_ = json.Unmarshal(info, &doc)
		res, n, err := containerResults(ctx, h, o, doc.CgroupVersion == "1")
		if err != nil {
			lost("containers", err)
		} else {
			r.Containers = map[string]int{host: n}
		}
		r.Results = append(r.Results, res...)
	}
	if o.wants(AreaImages) {
		res, err := imageResults(ctx, h, o)
		if err != nil {
			lost("images", err)
		}
		r.Results = append(r.Results, res...)
	}
	return r
}

// localSocket says whether the engine is reached over a unix socket on this
// machine, which is when berth can read the host's files.
func localSocket(endpoint string) (bool, string) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "unix" {
		return false, ""
	}
	return true, u.Path
}

// excluded says whether a container is left out by --exclude.
func excluded(o Options, name string, labels map[string]string) bool {
	for _, e := range o.Exclude {
		if k, v, ok := strings.Cut(e, "="); ok {
			if got, has := labels[k]; has && got == v {
				return true
			}
		} else if e == name {
			return true
		}
	}
	return false
}

// containerResults judges every container with the policy rules: a
// finding that would block is a fail, one that would only warn is a warn,
// a waived one is info with its waiver: shown, never hidden.
//
// On cgroup v1 every container's inspect says cgroupns "host": it is the
// engine's only default there, not a choice, and not reported.
func containerResults(ctx context.Context, h Source, o Options, cgroupV1 bool) ([]Result, int, error) {
	cs, err := h.ListContainers(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	specs := make([]*policy.Spec, len(cs))
	errs := make([]error, len(cs))
	forEach(len(cs), o.Parallel, func(i int) {
		raw, err := h.InspectContainerJSON(ctx, cs[i].ID)
		if engine.IsNotFound(err) {
			return // removed while we looked
		}
		if err != nil {
			errs[i] = err
			return
		}
		s, err := policy.FromInspect(raw, cs[i].Name)
		if err != nil {
			errs[i] = err
			return
		}
		if cgroupV1 && s.CgroupnsMode == "host" {
			s.CgroupnsMode = ""
		}
		specs[i] = &s
	})
	pol := o.Policy
	pol.Waivers = append(slices.Clone(pol.Waivers), berthWaivers...)
	var out []Result
	var firstErr error
	judged := 0
	for i, s := range specs {
		if errs[i] != nil && firstErr == nil {
			firstErr = fmt.Errorf("container %s: %w", cs[i].Name, errs[i])
		}
		if s == nil || excluded(o, s.Name, s.Labels) {
			continue
		}
		judged++
		for _, f := range pol.Evaluate(s) {
			out = append(out, findingResult(h.Host(), s.Name, f))
		}
	}
	return out, judged, firstErr
}

// berthWaivers excuse berth's own containers from the hygiene rules their
// job needs them to break, with the reason: they are reported, not failed.
var berthWaivers = []policy.Waiver{
	{Rule: "root-user", Label: "berth.role=proxy", Reason: "berth-proxy: every capability dropped, read-only root filesystem, no-new-privileges; it needs no user of its own"},
	{Rule: "port-all-interfaces", Label: "berth.role=proxy", Reason: "berth-proxy: serving the apps on every interface is its job (proxy.http sets the address)"},
	{Rule: "privileged-port", Label: "berth.role=proxy", Reason: "berth-proxy: publishes the port proxy.http names"},
	{Rule: "restart-unbounded", Label: "berth.role=proxy", Reason: "berth-proxy: must come back after every crash and engine restart, or no app is reachable"},
	{Rule: "no-healthcheck", Label: "berth.role=proxy", Reason: "berth-proxy: berth checks it through its admin API on every deploy"},
}

func findingResult(host, container string, f policy.Finding) Result {
	st := Warn
	if f.Enforced {
		st = Fail
	}
	r := Result{
		Check:  Check{ID: f.Rule, Area: AreaContainers, CIS: f.CIS, Title: f.Rule, Severity: f.Severity, Fix: f.Fix},
		Host:   host,
		Target: container, Status: st, Evidence: f.Message,
	}
	if rule, ok := policy.RuleByID(f.Rule); ok {
		r.Title = rule.Title
	}
	switch {
	case f.Waived:
		r.Status, r.Waiver = Info, f.Waiver
	case f.WaiverExpired != "":
		r.Evidence += " (" + f.WaiverExpired + ")"
	}
	return r
}

// imageResults reads every image (bounded) and runs the image checks.
func imageResults(ctx context.Context, h Source, o Options) ([]Result, error) {
	list, err := h.ImageListJSON(ctx, true)
	if err != nil {
		return nil, err
	}
	var items []struct{ ID string }
	if err := json.Unmarshal(list, &items); err != nil {
		return nil, fmt.Errorf("reading the image list: %w", err)
	}
	cs, err := h.ListContainers(ctx, nil)
	if err != nil {
		return nil, err
	}
	usedBy := map[string][]string{}
	for _, c := range cs {
		usedBy[c.ImageID] = append(usedBy[c.ImageID], c.Name)
	}
	facts := make([]ImageFacts, len(items))
	errs := make([]error, len(items))
	forEach(len(items), o.Parallel, func(i int) {
		id := items[i].ID
		ins, err := h.ImageJSON(ctx, id)
		if engine.IsNotFound(err) {
			return
		}
		if err != nil {
			errs[i] = err
			return
		}
		hist, err := h.ImageHistoryJSON(ctx, id)
		if err != nil && !engine.IsNotFound(err) {
			errs[i] = err
		}
		facts[i] = ImageFacts{Inspect: ins, History: hist, UsedBy: usedBy[id]}
		if sv, ok := h.(imageSaver); ok && o.Deep {
			facts[i].Files = savedImageFiles(func() (io.ReadCloser, error) { return sv.ImageSaveReader(ctx, id) })
		}
	})
	m := map[string]ImageFacts{}
	var firstErr error
	for i, f := range facts {
		if errs[i] != nil && firstErr == nil {
			firstErr = fmt.Errorf("image %s: %w", items[i].ID, errs[i])
		}
		if f.Inspect != nil {
			m[items[i].ID] = f
		}
	}
	return AuditImages(h.Host(), list, m, o.Now), firstErr
}

// forEach runs f(0..n-1) with at most par at once.
func forEach(n, par int, f func(i int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}
