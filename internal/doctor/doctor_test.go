package doctor

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/audit"
	"github.com/berthhq/berth/internal/policy"
	"github.com/berthhq/berth/internal/release"
)

func res(id string, area audit.Area, sev policy.Severity, st audit.Status, target string) audit.Result {
	return audit.Result{Check: audit.Check{ID: id, Area: area, Severity: sev, Fix: "fix " + id}, Host: "h1", Target: target, Status: st, Evidence: id + " seen"}
}

// sane is an audit where everything berth can see passes.
func sane() audit.Report {
	var rs []audit.Result
	for _, id := range []string{"engine-version", "engine-kernel", "engine-icc", "engine-live-restore", "engine-insecure-registries", "engine-authz", "engine-storage-driver", "engine-api-tls"} {
		rs = append(rs, res(id, audit.AreaEngine, policy.High, audit.Pass, ""))
	}
	for _, id := range []string{"host-no-new-privileges", "host-userland-proxy", "host-log-rotation", "host-insecure-registries", "host-docker-socket-mode", "host-tcp-tls"} {
		rs = append(rs, res(id, audit.AreaHost, policy.High, audit.Pass, ""))
	}
	rs = append(rs, res("image-age", audit.AreaImages, policy.Medium, audit.Pass, "shop:1.2"))
	// A hardened container has no findings: one info result stands for
	// "containers were read".
	rs = append(rs, res("root-user", audit.AreaContainers, policy.Medium, audit.Info, "shop-web-3"))
	return audit.Report{Hosts: []string{"h1"}, Results: rs, Containers: map[string]int{"h1": 1}}
}

func releases(n int) map[string]map[string][]release.Release {
	var rs []release.Release
	for i := 1; i <= n; i++ {
		rs = append(rs, release.Release{Service: "web", Number: i})
	}
	return map[string]map[string][]release.Release{"h1": {"web": rs}}
}

func answer(r Report, id string) Answer {
	for _, a := range r.Answers {
		if a.ID == id {
			return a
		}
	}
	return Answer{}
}

func TestDiagnoseSane(t *testing.T) {
	r := Diagnose(sane(), Facts{Config: "berth.yaml", Tracked: true, App: "shop", Services: []string{"web"}, Releases: releases(2)})
	for _, a := range r.Answers {
		want := Ready
		if a.ID == "monitoring" || a.ID == "backups" || a.ID == "logs" {
			want = Unknown // later issues; never a made-up pass
		}
		if a.Verdict != want {
			t.Errorf("%s: %s, want %s: %v", a.ID, a.Verdict, want, a.Evidence)
		}
		if len(a.Evidence) == 0 {
			t.Errorf("%s has no evidence", a.ID)
		}
	}
	if r.Overall != Unknown || len(r.Blockers) != 0 {
		t.Errorf("overall %s, blockers %v", r.Overall, r.Blockers)
	}
}

func TestDiagnoseBad(t *testing.T) {
	rep := sane()
	rep.Results = append(rep.Results,
		res("engine-live-restore", audit.AreaEngine, policy.Medium, audit.Fail, ""),
		res("privileged", audit.AreaContainers, policy.Critical, audit.Fail, "hand-made"),
		res("engine-version", audit.AreaEngine, policy.High, audit.Fail, ""),
		res("root-user", audit.AreaContainers, policy.Medium, audit.Warn, "plain"),
	)
	r := Diagnose(rep, Facts{Config: "berth.yaml", Tracked: false, App: "shop", Services: []string{"web"}, Releases: releases(1)})
	if r.Overall != NotYet {
		t.Fatalf("overall %s", r.Overall)
	}
	for id, want := range map[string]Verdict{"deploys": NotYet, "host-access": NotYet, "privileges": NotYet, "updates": NotYet, "engine-defaults": NotYet, "registry": Ready} {
		if a := answer(r, id); a.Verdict != want {
			t.Errorf("%s: %s, want %s: %v", id, a.Verdict, want, a.Evidence)
		}
	}
	d := answer(r, "deploys")
	if !strings.Contains(strings.Join(d.Evidence, "\n"), "not tracked by git") || !strings.Contains(strings.Join(d.Evidence, "\n"), "none kept to roll back") || d.Next == "" {
		t.Errorf("deploys: %+v", d)
	}
	// Blockers: fails only, most severe first.
	if len(r.Blockers) != 3 || r.Blockers[0].Check != "privileged" || r.Blockers[1].Check != "engine-version" || r.Blockers[2].Check != "engine-live-restore" {
		t.Errorf("blockers: %+v", r.Blockers)
	}
	if r.Blockers[0].Where != "h1/hand-made" || r.Blockers[0].Fix == "" {
		t.Errorf("blocker: %+v", r.Blockers[0])
	}
}

func TestDiagnoseNoConfigNoContainers(t *testing.T) {
	rep := sane()
	rep.Results = rep.Results[:len(rep.Results)-1] // no container at all
	rep.Containers = map[string]int{"h1": 0}
	r := Diagnose(rep, Facts{})
	if a := answer(r, "deploys"); a.Verdict != NotYet || !strings.Contains(a.Evidence[0], "no berth.yaml") {
		t.Errorf("deploys without berth.yaml: %+v", a)
	}
	if a := answer(r, "privileges"); a.Verdict != Ready || !strings.Contains(a.Evidence[0], "no container") {
		t.Errorf("privileges with no containers: %+v", a)
	}
	// Part of the audit missing: never "ready".
	rep.Incomplete = []string{"host h1: containers could not be checked: EOF"}
	r = Diagnose(rep, Facts{Config: "berth.yaml", Tracked: true, Services: []string{"web"}, Releases: releases(3)})
	if r.Overall == Ready {
		t.Error("an incomplete audit gave an overall ready")
	}
	if a := answer(r, "privileges"); a.Verdict == Ready {
		t.Errorf("privileges with containers not checked: %+v", a)
	}
}

func TestRender(t *testing.T) {
	rep := sane()
	rep.Results = append(rep.Results, res("privileged", audit.AreaContainers, policy.Critical, audit.Fail, `<script>alert(1)</script>`))
	r := Diagnose(rep, Facts{})
	var text, page bytes.Buffer
	if err := Text(&text, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Overall: NOT YET") || !strings.Contains(text.String(), "Top blockers") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := HTML(&page, r, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if strings.Contains(html, "<script>") {
		t.Error("a container name was not escaped")
	}
	for _, banned := range []string{"src=", "href=", "@import", "url("} {
		if strings.Contains(html, banned) {
			t.Errorf("the page refers to something outside it: %q", banned)
		}
	}
	if strings.Count(html, `class="answer `) != len(r.Answers) || !strings.Contains(html, `data-verdict="not yet"`) {
		t.Errorf("page lacks answers")
	}
}

// "Ready" needs the passes behind it: checks that were skipped or only
// informative leave the answer unknown, never ready.
func TestDiagnoseNeedsPasses(t *testing.T) {
	rep := sane()
	for i := range rep.Results {
		if rep.Results[i].Area == audit.AreaEngine {
			rep.Results[i].Status = audit.Skipped
		}
		if rep.Results[i].ID == "engine-version" {
			rep.Results[i].Status = audit.Info // newer than the table
		}
	}
	r := Diagnose(rep, Facts{Config: "berth.yaml", Tracked: true, Services: []string{"web"}, Releases: releases(2)})
	for _, id := range []string{"host-access", "updates", "network", "engine-defaults", "registry"} {
		if a := answer(r, id); a.Verdict == Ready {
			t.Errorf("%s is ready on skipped checks: %v", id, a.Evidence)
		}
	}
	// Containers read, none with findings: their privileges are ready.
	if a := answer(r, "privileges"); a.Verdict != Ready || !strings.Contains(a.Evidence[0], "1 containers") {
		t.Errorf("privileges: %+v", a)
	}
	// Containers not read at all: unknown.
	rep.Containers = nil
	if a := answer(Diagnose(rep, Facts{}), "privileges"); a.Verdict != Unknown {
		t.Errorf("privileges without containers read: %+v", a)
	}
}
