package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/policy"
)

type fakeHost struct {
	name string
	docs map[string]string // container name -> inspect JSON
}

func (f fakeHost) Host() string { return f.name }

func (f fakeHost) ListContainers(context.Context, map[string]string) ([]engine.ContainerSummary, error) {
	var out []engine.ContainerSummary
	for name := range f.docs {
		out = append(out, engine.ContainerSummary{ID: name, Name: name, State: "running"})
	}
	out = append(out, engine.ContainerSummary{ID: "gone", Name: "gone"}) // removed while the audit runs
	return out, nil
}

func (f fakeHost) InspectContainerJSON(_ context.Context, id string) ([]byte, error) {
	doc, ok := f.docs[id]
	if !ok {
		return nil, cerrdefs.ErrNotFound.WithMessage("no such container")
	}
	return []byte(doc), nil
}

// fakeSource is an engine made of recorded documents.
type fakeSource struct {
	fakeHost
	info    []byte
	infoErr error
	inspect error // InspectContainerJSON fails for every container (a host that stops answering)
}

func (f fakeSource) Endpoint() string { return "tcp://10.0.0.5:2376" }
func (f fakeSource) UsesTLS() bool    { return true }
func (f fakeSource) InfoJSON(context.Context) ([]byte, error) {
	return f.info, f.infoErr
}
func (f fakeSource) NetworkJSON(context.Context, string) ([]byte, error) {
	return os.ReadFile("testdata/engine/bridge-icc-false.json")
}
func (f fakeSource) ImageListJSON(context.Context, bool) ([]byte, error) { return []byte(`[]`), nil }
func (f fakeSource) ImageJSON(context.Context, string) ([]byte, error) {
	return nil, cerrdefs.ErrNotFound
}
func (f fakeSource) ImageHistoryJSON(context.Context, string) ([]byte, error) {
	return nil, cerrdefs.ErrNotFound
}
func (f fakeSource) InspectContainerJSON(ctx context.Context, id string) ([]byte, error) {
	if f.inspect != nil {
		return nil, f.inspect
	}
	return f.fakeHost.InspectContainerJSON(ctx, id)
}
func (f fakeSource) ListContainers(ctx context.Context, l map[string]string) ([]engine.ContainerSummary, error) {
	return f.fakeHost.ListContainers(ctx, l)
}

func newFake(t *testing.T) fakeSource {
	info, err := os.ReadFile("testdata/engine/info-debian-20.10.json")
	if err != nil {
		t.Fatal(err)
	}
	return fakeSource{info: info, fakeHost: fakeHost{name: "h1", docs: map[string]string{
		"hand-made": `{"Name":"/hand-made","Config":{"Image":"nginx:latest","User":""},"HostConfig":{"Privileged":true,"Binds":["/:/host"]}}`,
		"berth-proxy": `{"Name":"/berth-proxy","Config":{"Image":"berth:1","Labels":{"berth.role":"proxy","berth.managed":"true"}},
			"HostConfig":{"CapDrop":["ALL"],"SecurityOpt":["no-new-privileges"],"ReadonlyRootfs":true,"RestartPolicy":{"Name":"always"},
			"PortBindings":{"8080/tcp":[{"HostIp":"","HostPort":"80"}]}}}`,
		"excluded-one": `{"Name":"/excluded-one","Config":{"Image":"x:1","Labels":{"audit":"skip"}},"HostConfig":{"Privileged":true}}`,
	}}}
}

func TestRunContainers(t *testing.T) {
	f := newFake(t)
	rep := Run(context.Background(), []Source{f}, Options{Areas: []Area{AreaContainers}, Policy: policy.Default(), Exclude: []string{"audit=skip"}})
	byTarget := map[string][]Result{}
	for _, r := range rep.Results {
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	if _, ok := byTarget["excluded-one"]; ok {
		t.Error("--exclude audit=skip did not leave the container out")
	}
	var priv bool
	for _, r := range byTarget["hand-made"] {
		priv = priv || r.ID == "privileged" && r.Status == Fail && r.Fix != "" && r.CIS != ""
	}
	if !priv {
		t.Errorf("hand-made privileged container: %+v", byTarget["hand-made"])
	}
	// berth's own proxy: its hygiene findings are waived, shown as info
	// with the reason, and none is a fail.
	waived := 0
	for _, r := range byTarget["berth-proxy"] {
		if r.Status == Fail {
			t.Errorf("berth-proxy fails %s: %s", r.ID, r.Evidence)
		}
		if r.Waiver != "" {
			waived++
			if r.Status != Info {
				t.Errorf("waived %s is %s", r.ID, r.Status)
			}
		}
	}
	if waived < 3 {
		t.Errorf("berth-proxy: %d waived results, want root-user, port and restart waived: %+v", waived, byTarget["berth-proxy"])
	}
}

// A host that stops answering halfway: the report says what could not be
// checked and finishes the rest.
func TestRunIncomplete(t *testing.T) {
	f := newFake(t)
	f.inspect = errors.New("connection reset by peer")
	rep := Run(context.Background(), []Source{f}, Options{Areas: []Area{AreaEngine, AreaContainers}, Policy: policy.Default()})
	if len(rep.Incomplete) != 1 || !strings.Contains(rep.Incomplete[0], "h1: containers could not be checked") || !strings.Contains(rep.Incomplete[0], "connection reset") {
		t.Fatalf("incomplete: %q", rep.Incomplete)
	}
	engineResults := 0
	for _, r := range rep.Results {
		if r.Area == AreaEngine {
			engineResults++
		}
	}
	if engineResults != len(EngineChecks()) {
		t.Errorf("engine results: %d of %d", engineResults, len(EngineChecks()))
	}
	// No /info at all: every engine check skipped with the reason.
	f = newFake(t)
	f.infoErr = errors.New("permission denied")
	rep = Run(context.Background(), []Source{f}, Options{Areas: []Area{AreaEngine}})
	for _, r := range rep.Results {
		if r.Status != Skipped || r.Reason == "" {
			t.Fatalf("%s: %s %q", r.ID, r.Status, r.Reason)
		}
	}
	if len(rep.Incomplete) != 1 || !strings.Contains(rep.Incomplete[0], "permission denied") {
		t.Errorf("incomplete: %q", rep.Incomplete)
	}
}

func TestRenderers(t *testing.T) {
	f := newFake(t)
	rep := Run(context.Background(), []Source{f}, Options{Policy: policy.Default(), Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	var text bytes.Buffer
	if err := Text(&text, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"== h1: engine ==", "== h1: containers ==", "FAIL", "fix:", " fail, "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	var sarif bytes.Buffer
	if err := SARIF(&sarif, rep, "test"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string
		Runs    []struct {
			Tool struct {
				Driver struct{ Rules []struct{ ID string } }
			}
			Results []struct {
				RuleID       string
				Suppressions []any
			}
		}
	}
	if err := json.Unmarshal(sarif.Bytes(), &doc); err != nil || doc.Version != "2.1.0" || len(doc.Runs[0].Results) == 0 {
		t.Fatalf("sarif: %v %s", err, sarif.String()[:200])
	}
	rules := map[string]bool{}
	for _, r := range doc.Runs[0].Tool.Driver.Rules {
		rules[r.ID] = true
	}
	suppressed := 0
	for _, r := range doc.Runs[0].Results {
		if !rules[r.RuleID] {
			t.Errorf("result for %s has no rule", r.RuleID)
		}
		if len(r.Suppressions) > 0 {
			suppressed++
		}
	}
	if suppressed == 0 {
		t.Error("the proxy's waived results are not suppressed results in SARIF")
	}
	var junit bytes.Buffer
	if err := JUnit(&junit, rep, 0); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &suites); err != nil || len(suites.Suites) < 2 {
		t.Fatalf("junit: %v\n%s", err, junit.String())
	}
	// --fail-on: warnings count at or above the threshold, info never.
	if Failing(rep.Results, 0) == 0 || Failing(rep.Results, policy.Low) <= Failing(rep.Results, 0) {
		t.Errorf("Failing: default %d, low %d", Failing(rep.Results, 0), Failing(rep.Results, policy.Low))
	}
	only := Filter(rep.Results, []string{"privileged"}, nil)
	if len(only) != 2 || only[0].ID != "privileged" || only[1].ID != "privileged" {
		t.Errorf("--only privileged: %d results (hand-made and excluded-one are privileged)", len(only))
	}
	if n := len(Filter(rep.Results, nil, []string{"privileged"})); n != len(rep.Results)-2 {
		t.Errorf("--skip privileged: %d of %d", n, len(rep.Results))
	}
}
