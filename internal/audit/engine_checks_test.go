package audit

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/system"

	"github.com/berthhq/berth/internal/policy"
)

// engineNow is the day the release table was written: the version check's
// verdicts below are the ones a user saw on that day.
var engineNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// engineFixture reads testdata/engine/NAME; edits replace top-level fields
// of the document (a nil value deletes the field), for variants that
// differ from a recorded response in one setting.
func engineFixture(t *testing.T, name string, edits map[string]any) []byte {
	t.Helper()
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join("testdata", "engine", name))
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return b
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for k, v := range edits {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// engineStatuses is each check's statuses, joined with "," when it gave several.
func engineStatuses(rs []Result) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		if m[r.ID] != "" {
			m[r.ID] += ","
		}
		m[r.ID] += string(r.Status)
	}
	return m
}

func engineResult(t *testing.T, rs []Result, id string) Result {
	t.Helper()
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s", id)
	return Result{}
}

const engineUnixSock = "unix:///var/run/docker.sock"

type engineCase struct {
	name     string
	info     string
	bridge   string
	endpoint string
	tls      bool
	want     map[string]string
}

var engineCases = []engineCase{
	{
		name: "Debian's 20.10 as installed, over the socket", info: "info-debian-20.10.json", bridge: "bridge-debian-20.10.json", endpoint: engineUnixSock,
		want: map[string]string{
			"engine-api-tls": "pass", "engine-version": "fail", "engine-kernel": "pass", "engine-insecure-registries": "pass",
			"engine-seccomp": "pass", "engine-authz": "warn", "engine-userns": "warn", "engine-no-new-privileges": "info",
			"engine-icc": "fail", "engine-live-restore": "fail", "engine-storage-driver": "warn", "engine-log-driver": "info",
			"engine-metrics-addr": "skipped", "engine-cgroup": "warn", "engine-experimental": "pass", "engine-debug": "pass",
			"engine-lsm": "info", "engine-swarm-managers": "info", "engine-swarm-autolock": "info", "engine-swarm-cert-expiry": "info",
			"engine-warnings": "pass", "engine-root-dir": "info",
		},
	},
	{
		name: "20.10 with every bad flag, reached over the socket", info: "info-20.10-experimental-debug-insecure-tcp.json", bridge: "bridge-icc-true.json", endpoint: engineUnixSock,
		want: map[string]string{
			"engine-api-tls": "fail", "engine-version": "fail", "engine-kernel": "pass", "engine-insecure-registries": "fail",
			"engine-seccomp": "pass", "engine-authz": "warn", "engine-userns": "warn", "engine-no-new-privileges": "info",
			"engine-icc": "fail", "engine-live-restore": "fail", "engine-storage-driver": "warn", "engine-log-driver": "warn",
			"engine-metrics-addr": "skipped", "engine-cgroup": "warn", "engine-experimental": "warn", "engine-debug": "warn",
			"engine-lsm": "info", "engine-swarm-managers": "info", "engine-swarm-autolock": "info", "engine-swarm-cert-expiry": "info",
			"engine-warnings": "warn", "engine-root-dir": "info",
		},
	},
	{
		name: "20.10 with berth setup's defaults, over ssh", info: "info-20.10-live-restore-local-log.json", bridge: "bridge-icc-false.json", endpoint: "ssh://deploy@10.0.0.5",
		want: map[string]string{
			"engine-api-tls": "pass", "engine-version": "fail", "engine-kernel": "pass", "engine-insecure-registries": "pass",
			"engine-seccomp": "pass", "engine-authz": "warn", "engine-userns": "warn", "engine-no-new-privileges": "info",
			"engine-icc": "pass", "engine-live-restore": "pass", "engine-storage-driver": "pass", "engine-log-driver": "pass",
			"engine-metrics-addr": "skipped", "engine-cgroup": "warn", "engine-experimental": "pass", "engine-debug": "pass",
			"engine-lsm": "info", "engine-swarm-managers": "info", "engine-swarm-autolock": "info", "engine-swarm-cert-expiry": "info",
			"engine-warnings": "pass", "engine-root-dir": "info",
		},
	},
	{
		name: "29.1 hardened, over TLS", info: "info-29.1-hardened-edited.json", bridge: "bridge-icc-false.json", endpoint: "tcp://10.0.0.5:2376", tls: true,
		want: map[string]string{
			"engine-api-tls": "pass", "engine-version": "pass", "engine-kernel": "pass", "engine-insecure-registries": "pass",
			"engine-seccomp": "pass", "engine-authz": "pass", "engine-userns": "pass", "engine-no-new-privileges": "pass",
			"engine-icc": "pass", "engine-live-restore": "pass", "engine-storage-driver": "pass", "engine-log-driver": "pass",
			"engine-metrics-addr": "skipped", "engine-cgroup": "pass", "engine-experimental": "pass", "engine-debug": "pass",
			"engine-lsm": "pass", "engine-swarm-managers": "info", "engine-swarm-autolock": "info", "engine-swarm-cert-expiry": "info",
			"engine-warnings": "pass", "engine-root-dir": "info",
		},
	},
	{
		name: "28.5 swarm manager, bridge unreadable", info: "info-28.5-swarm-manager-edited.json", endpoint: "tcp://10.0.0.5:2376", tls: true,
		want: map[string]string{
			"engine-api-tls": "fail", "engine-version": "fail", "engine-kernel": "info", "engine-insecure-registries": "pass",
			"engine-seccomp": "fail", "engine-authz": "warn", "engine-userns": "warn", "engine-no-new-privileges": "warn",
			"engine-icc": "skipped", "engine-live-restore": "info", "engine-storage-driver": "pass", "engine-log-driver": "info",
			"engine-metrics-addr": "skipped", "engine-cgroup": "pass", "engine-experimental": "pass", "engine-debug": "pass",
			"engine-lsm": "info", "engine-swarm-managers": "warn", "engine-swarm-autolock": "warn", "engine-swarm-cert-expiry": "warn",
			"engine-warnings": "warn,warn", "engine-root-dir": "info",
		},
	},
	{
		name: "25.0 swarm manager, days before its end of life", info: "info-25.0-swarm-manager-edited.json", bridge: "bridge-icc-false.json", endpoint: engineUnixSock,
		want: map[string]string{
			"engine-api-tls": "pass", "engine-version": "warn", "engine-kernel": "warn", "engine-insecure-registries": "pass",
			"engine-seccomp": "pass", "engine-authz": "warn", "engine-userns": "warn", "engine-no-new-privileges": "warn",
			"engine-icc": "pass", "engine-live-restore": "info", "engine-storage-driver": "info", "engine-log-driver": "pass",
			"engine-metrics-addr": "skipped", "engine-cgroup": "pass", "engine-experimental": "pass", "engine-debug": "pass",
			"engine-lsm": "pass", "engine-swarm-managers": "pass", "engine-swarm-autolock": "pass", "engine-swarm-cert-expiry": "pass",
			"engine-warnings": "pass", "engine-root-dir": "info",
		},
	},
	{
		name: "19.03 swarm worker on devicemapper", info: "info-19.03-devicemapper-worker-edited.json", bridge: "bridge-debian-20.10.json", endpoint: engineUnixSock,
		want: map[string]string{
			"engine-api-tls": "pass", "engine-version": "fail", "engine-kernel": "warn", "engine-insecure-registries": "pass",
			"engine-seccomp": "fail", "engine-authz": "warn", "engine-userns": "warn", "engine-no-new-privileges": "info",
			"engine-icc": "fail", "engine-live-restore": "info", "engine-storage-driver": "fail", "engine-log-driver": "pass",
			"engine-metrics-addr": "skipped", "engine-cgroup": "skipped", "engine-experimental": "pass", "engine-debug": "pass",
			"engine-lsm": "pass", "engine-swarm-managers": "info", "engine-swarm-autolock": "info", "engine-swarm-cert-expiry": "info",
			"engine-warnings": "warn", "engine-root-dir": "info",
		},
	},
}

func (c engineCase) facts(t *testing.T) EngineFacts {
	return EngineFacts{Host: "web1", Info: engineFixture(t, c.info, nil), Bridge: engineFixture(t, c.bridge, nil),
		Endpoint: c.endpoint, TLS: c.tls, Now: engineNow}
}

// Every check on every recorded engine: the statuses a user sees.
func TestEngineChecksOnRecordedEngines(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			rs := AuditEngine(c.facts(t))
			if got := engineStatuses(rs); !maps.Equal(got, c.want) {
				for _, id := range slices.Sorted(maps.Keys(c.want)) {
					if got[id] != c.want[id] {
						t.Errorf("%s: got %q, want %q (%s)", id, got[id], c.want[id], engineResult(t, rs, id).Evidence+engineResult(t, rs, id).Reason)
					}
				}
				for id := range got {
					if _, ok := c.want[id]; !ok {
						t.Errorf("unexpected check %s: %s", id, got[id])
					}
				}
			}
			for _, r := range rs {
				if r.Host != "web1" || r.Area != AreaEngine || r.Target != "" {
					t.Errorf("%s: host %q area %q target %q", r.ID, r.Host, r.Area, r.Target)
				}
				if r.Status == Skipped && r.Reason == "" || r.Status != Skipped && r.Evidence == "" {
					t.Errorf("%s %s without a reason or evidence: %+v", r.ID, r.Status, r)
				}
			}
		})
	}
}

// berth reads /info through moby's types (engine.InfoJSON re-marshals
// them): the verdicts must not depend on which shape it was.
func TestEngineChecksSameThroughMobyTypes(t *testing.T) {
	for _, c := range engineCases {
		t.Run(c.name, func(t *testing.T) {
			f := c.facts(t)
			var typed system.Info
			if err := json.Unmarshal(f.Info, &typed); err != nil {
				t.Fatal(err)
			}
			remarshaled, err := json.Marshal(typed)
			if err != nil {
				t.Fatal(err)
			}
			want := AuditEngine(f)
			f.Info = remarshaled
			if got := AuditEngine(f); !slices.Equal(got, want) {
				t.Errorf("results differ after moby's system.Info:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEngineChecksCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range EngineChecks() {
		if !strings.HasPrefix(c.ID, "engine-") || seen[c.ID] {
			t.Errorf("check ID %q: not engine- or a duplicate", c.ID)
		}
		seen[c.ID] = true
		if c.Area != AreaEngine || c.Title == "" || c.Fix == "" || c.Severity < policy.Low || c.Severity > policy.Critical {
			t.Errorf("check %s incomplete: %+v", c.ID, c)
		}
	}
	// internal/setup names these as the checks its defaults turn to pass.
	for _, id := range []string{"engine-live-restore", "engine-icc"} {
		if !seen[id] {
			t.Errorf("no check %s, which berth setup refers to", id)
		}
	}
	// Every check reports on every engine, in catalogue order.
	rs := AuditEngine(engineCases[0].facts(t))
	var order []string
	for _, r := range rs {
		if len(order) == 0 || order[len(order)-1] != r.ID {
			order = append(order, r.ID)
		}
	}
	var ids []string
	for _, c := range EngineChecks() {
		ids = append(ids, c.ID)
	}
	if !slices.Equal(order, ids) {
		t.Errorf("results in order %v, catalogue %v", order, ids)
	}
}

func TestEngineUnparsableInfoSkipsEveryCheck(t *testing.T) {
	for _, info := range []string{"", "not json", "null", "[1,2]", `{"ServerVersion": 29}`, `{"Warnings": "x"`} {
		t.Run(info, func(t *testing.T) {
			rs := AuditEngine(EngineFacts{Host: "web1", Info: []byte(info), Bridge: engineFixture(t, "bridge-icc-false.json", nil), Endpoint: engineUnixSock, Now: engineNow})
			if len(rs) != len(EngineChecks()) {
				t.Fatalf("%d results for %d checks", len(rs), len(EngineChecks()))
			}
			for _, r := range rs {
				if r.Status != Skipped || !strings.Contains(r.Reason, "GET /info could not be read") {
					t.Errorf("%s: %s %q", r.ID, r.Status, r.Reason)
				}
			}
		})
	}
}

// An engine that sends a field nobody fills (too old, or not Docker) gets
// skipped checks, never the zero value judged as "off".
func TestEngineMissingFieldsAreSkippedNotFailed(t *testing.T) {
	rs := AuditEngine(EngineFacts{Host: "web1", Info: []byte(`{}`), Endpoint: engineUnixSock, Now: engineNow})
	for _, r := range rs {
		switch r.ID {
		case "engine-api-tls":
			if r.Status != Pass {
				t.Errorf("%s: %s", r.ID, r.Status)
			}
		case "engine-warnings":
			if r.Status != Pass {
				t.Errorf("%s: %s", r.ID, r.Status)
			}
		default:
			if r.Status != Skipped {
				t.Errorf("%s: %s %s, want skipped", r.ID, r.Status, r.Evidence)
			}
		}
	}
}

func TestEngineAPITLS(t *testing.T) {
	for _, c := range []struct {
		info, endpoint string
		tls            bool
		want           Status
		evidence       []string
	}{
		{"info-debian-20.10.json", engineUnixSock, false, Pass, []string{"berth reached it at unix:///var/run/docker.sock", "GET /info does not list its listeners"}},
		{"info-debian-20.10.json", "ssh://deploy@10.0.0.5", false, Pass, []string{"ssh://deploy@10.0.0.5"}},
		{"info-debian-20.10.json", "tcp://10.0.0.5:2376", true, Pass, []string{"over TLS"}},
		{"info-debian-20.10.json", "tcp://10.0.0.5:2375", false, Fail, []string{"tcp://10.0.0.5:2375 without TLS"}},
		{"info-debian-20.10.json", "", false, Skipped, nil},
		// The engine's own warning fails it whichever way berth came in.
		{"info-20.10-experimental-debug-insecure-tcp.json", engineUnixSock, false, Fail, []string{"http://127.0.0.1:2375 without encryption", "berth reached it at unix://"}},
		{"info-28.5-swarm-manager-edited.json", "tcp://10.0.0.5:2376", true, Fail, []string{"https://0.0.0.0:2376 without TLS client verification"}},
	} {
		t.Run(c.info+" "+c.endpoint, func(t *testing.T) {
			r := engineResult(t, AuditEngine(EngineFacts{Host: "web1", Info: engineFixture(t, c.info, nil), Endpoint: c.endpoint, TLS: c.tls, Now: engineNow}), "engine-api-tls")
			if r.Status != c.want {
				t.Errorf("status %s, want %s: %s%s", r.Status, c.want, r.Evidence, r.Reason)
			}
			for _, s := range c.evidence {
				if !strings.Contains(r.Evidence, s) {
					t.Errorf("evidence %q lacks %q", r.Evidence, s)
				}
			}
		})
	}
}

func TestEngineInsecureRegistries(t *testing.T) {
	reg := func(cidrs []string, index map[string]any, mirrors []string) map[string]any {
		if index == nil {
			index = map[string]any{}
		}
		index["docker.io"] = map[string]any{"Name": "docker.io", "Mirrors": mirrors, "Secure": true, "Official": true}
		return map[string]any{"RegistryConfig": map[string]any{"InsecureRegistryCIDRs": cidrs, "IndexConfigs": index, "Mirrors": mirrors}}
	}
	insecure := func(name string) map[string]any {
		return map[string]any{name: map[string]any{"Name": name, "Mirrors": []string{}, "Secure": false}}
	}
	for _, c := range []struct {
		name     string
		edits    map[string]any
		want     Status
		evidence string
	}{
		{"the recorded default 127.0.0.0/8 alone", nil, Pass, "InsecureRegistryCIDRs [127.0.0.0/8] is the engine's loopback default"},
		{"newer engines' default with ::1/128", reg([]string{"::1/128", "127.0.0.0/8"}, nil, nil), Pass, "loopback default"},
		{"a subset of loopback", reg([]string{"127.0.0.1/32", "127.0.0.0/8"}, nil, nil), Pass, ""},
		{"a private range", reg([]string{"10.8.0.0/16", "127.0.0.0/8"}, nil, nil), Fail, "insecure registry range 10.8.0.0/16"},
		{"all of IPv4", reg([]string{"0.0.0.0/0", "127.0.0.0/8"}, nil, nil), Fail, "insecure registry range 0.0.0.0/0"},
		{"a registry by name", reg([]string{"127.0.0.0/8"}, insecure("registry.internal:5000"), nil), Fail, "insecure registry registry.internal:5000"},
		{"localhost:5000 is loopback too", reg([]string{"127.0.0.0/8"}, insecure("localhost:5000"), nil), Pass, ""},
		{"a plain-HTTP mirror", reg([]string{"127.0.0.0/8"}, nil, []string{"http://10.9.9.9:5001/"}), Fail, "plain-HTTP mirror http://10.9.9.9:5001/"},
		{"an HTTPS mirror", reg([]string{"127.0.0.0/8"}, nil, []string{"https://mirror.gcr.io/"}), Pass, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := engineResult(t, AuditEngine(EngineFacts{Host: "web1", Info: engineFixture(t, "info-debian-20.10.json", c.edits), Endpoint: engineUnixSock, Now: engineNow}), "engine-insecure-registries")
			if r.Status != c.want || !strings.Contains(r.Evidence, c.evidence) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Evidence, c.want, c.evidence)
			}
		})
	}
}

// Evidence says what was seen, never a secret: a mirror's or an
// endpoint's password is redacted.
func TestEngineEvidenceHasNoSecrets(t *testing.T) {
	mirror := []string{"http://puller:s3cret-mirror@10.9.9.9:5001/"}
	info := engineFixture(t, "info-debian-20.10.json", map[string]any{"RegistryConfig": map[string]any{
		"InsecureRegistryCIDRs": []string{"127.0.0.0/8"}, "Mirrors": mirror,
		"IndexConfigs": map[string]any{"docker.io": map[string]any{"Name": "docker.io", "Mirrors": mirror, "Secure": true}},
	}})
	rs := AuditEngine(EngineFacts{Host: "web1", Info: info, Endpoint: "tcp://admin:s3cret-endpoint@10.0.0.5:2375", Now: engineNow})
	if r := engineResult(t, rs, "engine-insecure-registries"); r.Status != Fail || !strings.Contains(r.Evidence, "puller:xxxxx@10.9.9.9:5001") {
		t.Errorf("mirror: %s %q", r.Status, r.Evidence)
	}
	for _, r := range rs {
		if strings.Contains(r.Evidence+r.Reason, "s3cret") {
			t.Errorf("%s shows a password: %q", r.ID, r.Evidence)
		}
	}
}

func TestParseEngineVersion(t *testing.T) {
	for in, want := range map[string]string{
		"20.10.24+dfsg1":          "20.10.24", // Debian
		"26.1.5+dfsg1-9+b9":       "26.1.5",
		"24.0.7-0ubuntu2~22.04.1": "24.0.7", // Ubuntu
		"25.0.8-1.amzn2023.0.4":   "25.0.8", // Amazon Linux
		"19.03.15":                "19.03.15",
		"17.03.2-ce":              "17.03.2",
		"29.1.2":                  "29.1.2",
		"v28.0.0":                 "28.0.0",
		"1.13":                    "1.13",
		"dev":                     "",
		"":                        "",
	} {
		v, ok := parseEngineVersion(in)
		if got := map[bool]string{true: v.String()}[ok]; got != want {
			t.Errorf("parseEngineVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEngineVersionAgainstReleaseTable(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d.Add(12 * time.Hour) }
	for _, c := range []struct {
		version  string
		now      time.Time
		want     Status
		evidence string
	}{
		{"20.10.24+dfsg1", engineNow, Fail, "Docker 20.10.24 reached end of life on 2023-12-10 (table of 2026-12-01)"},
		{"19.03.15", engineNow, Fail, "Docker 19.03.15 reached end of life on 2021-01-08"},
		{"18.09.9", engineNow, Fail, "older than 19.03, which reached end of life on 2021-01-08"},
		{"1.13.1", engineNow, Fail, "older than 19.03"},
		{"23.0.16", engineNow, Fail, "reached end of life on 2025-05-19"},
		{"24.0.9", engineNow, Fail, "reached end of life on 2024-06-08"},
		{"26.0.2", engineNow, Fail, "reached end of life on 2024-06-08"},
		{"26.1.5+dfsg1", engineNow, Fail, "reached end of life on 2025-02-17"},
		{"27.5.1", engineNow, Fail, "reached end of life on 2025-05-03"},
		{"28.5.2", engineNow, Fail, "reached end of life on 2026-05-13"},
		{"28.0.0", day("2026-05-12"), Warn, "reaches end of life on 2026-05-13, in 1 day ("},
		{"25.0.13", engineNow, Warn, "Docker 25.0.13 reaches end of life on 2026-12-04, in 3 days"},
		{"25.0.13", day("2026-06-01"), Pass, "maintained until 2026-12-04"},
		{"25.0.13", day("2026-12-04"), Fail, "reached end of life on 2026-12-04"},
		{"29.1.2", engineNow, Pass, "Docker 29.1.2 is maintained (table of 2026-12-01)"},
		{"29.1.2", day("2028-01-01"), Info, "the table is over a year old"},
		{"30.0.0", engineNow, Info, "newer than berth's release table"},
		{"22.06.0-beta.0", engineNow, Info, "not a release in berth's table"},
		{"4.9.3", engineNow, Info, "not a Docker Engine version"}, // Podman's compat API
		{"master-dockerproject-2026", engineNow, Info, "not a version berth can read"},
	} {
		t.Run(c.version+" "+c.now.Format(time.DateOnly), func(t *testing.T) {
			info := engineFixture(t, "info-debian-20.10.json", map[string]any{"ServerVersion": c.version})
			r := engineResult(t, AuditEngine(EngineFacts{Host: "web1", Info: info, Endpoint: engineUnixSock, Now: c.now}), "engine-version")
			if r.Status != c.want || !strings.Contains(r.Evidence, c.evidence) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Evidence, c.want, c.evidence)
			}
		})
	}
}

func TestEngineKernel(t *testing.T) {
	for _, c := range []struct {
		kernel   string
		want     Status
		evidence string
	}{
		{"6.18.44-fc-v669", Pass, "outside the known-bad ranges"},
		{"4.19.0", Pass, ""},
		{"6.8.0-90-generic", Pass, ""},
		{"2.6.32-754.el6.x86_64", Fail, "older than 3.10"},
		{"3.10.0-1160.el7.x86_64", Warn, "3.x line is past upstream end of life"},
		{"4.4.25", Warn, "CVE-2016-5195 (Dirty COW), fixed upstream in 4.4.26"},
		{"4.4.26", Pass, ""},
		{"4.7.8", Warn, "CVE-2016-5195"},
		{"4.8.2", Warn, "fixed upstream in 4.8.3"},
		{"4.8.3", Pass, ""},
		{"5.7.19", Pass, ""},
		{"5.10.100", Warn, "CVE-2022-0847 (Dirty Pipe), fixed upstream in 5.10.102; distribution kernels backport fixes"},
		{"5.10.102", Pass, ""},
		{"5.13.19", Warn, "fixed upstream in 5.15.25"},
		{"5.15.24-arch1-1", Warn, "CVE-2022-0847"},
		{"5.16.11", Pass, ""},
		// Debian and Ubuntu hide the upstream patch level: not judged.
		{"5.10.0-28-amd64", Info, "does not show its upstream patch level; its line had CVE-2022-0847 (Dirty Pipe) until 5.10.102"},
		{"5.15.0-91-generic", Info, "check your distribution's advisory"},
		{"Darwin", Info, "not a Linux version"},
	} {
		t.Run(c.kernel, func(t *testing.T) {
			info := engineFixture(t, "info-debian-20.10.json", map[string]any{"KernelVersion": c.kernel})
			r := engineResult(t, AuditEngine(EngineFacts{Host: "web1", Info: info, Endpoint: engineUnixSock, Now: engineNow}), "engine-kernel")
			if r.Status != c.want || !strings.Contains(r.Evidence, c.evidence) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Evidence, c.want, c.evidence)
			}
		})
	}
}

// One setting changed at a time on the recorded Debian engine, for the
// outcomes the fixtures above do not show.
func TestEngineSingleSettings(t *testing.T) {
	for _, c := range []struct {
		id       string
		edits    map[string]any
		want     Status
		evidence string
	}{
		{"engine-userns", map[string]any{"SecurityOptions": []string{"name=seccomp,profile=default", "name=rootless"}}, Pass, "rootless"},
		{"engine-seccomp", map[string]any{"SecurityOptions": []string{"name=seccomp,profile=builtin"}}, Pass, "profile=builtin"},
		{"engine-storage-driver", map[string]any{"Driver": "aufs"}, Fail, `Driver: "aufs": deprecated`},
		{"engine-storage-driver", map[string]any{"Driver": "overlay2"}, Pass, `Driver: "overlay2"`},
		{"engine-log-driver", nil, Info, "the json-file rotation default (log-opts max-size) is in daemon.json; `berth audit host` reads it"},
		{"engine-cgroup", map[string]any{"CgroupDriver": "none"}, Warn, "limits are not applied"},
		{"engine-swarm-managers", map[string]any{"Swarm": map[string]any{"LocalNodeState": "active", "ControlAvailable": true, "Managers": 1}}, Info, "no fault tolerance"},
		{"engine-swarm-managers", map[string]any{"Swarm": map[string]any{"LocalNodeState": "active", "ControlAvailable": true, "Managers": 9}}, Warn, "at most seven"},
		{"engine-swarm-managers", map[string]any{"Swarm": map[string]any{"LocalNodeState": "locked"}}, Info, `swarm locked`},
		{"engine-swarm-managers", map[string]any{"Swarm": map[string]any{"LocalNodeState": "error", "Error": "raft: no leader"}}, Warn, "raft: no leader"},
		{"engine-swarm-autolock", map[string]any{"Swarm": map[string]any{"LocalNodeState": "inactive"}}, Info, "swarm not active"},
		{"engine-no-new-privileges", nil, Info, "`berth audit host` reads it"},
		{"engine-root-dir", map[string]any{"DockerRootDir": nil}, Skipped, ""},
	} {
		t.Run(c.id+" "+c.evidence, func(t *testing.T) {
			info := engineFixture(t, "info-debian-20.10.json", c.edits)
			r := engineResult(t, AuditEngine(EngineFacts{Host: "web1", Info: info, Endpoint: engineUnixSock, Now: engineNow}), c.id)
			if r.Status != c.want || !strings.Contains(r.Evidence, c.evidence) {
				t.Errorf("%s %q, want %s with %q", r.Status, r.Evidence, c.want, c.evidence)
			}
		})
	}
}

func TestEngineWarningsOnePerWarning(t *testing.T) {
	rs := AuditEngine(engineCases[4].facts(t)) // 28.5 manager: two warnings
	var got []string
	for _, r := range rs {
		if r.ID == "engine-warnings" {
			got = append(got, r.Evidence)
		}
	}
	want := []string{
		"[DEPRECATION NOTICE]: API is accessible on https://0.0.0.0:2376 without TLS client verification.",
		"WARNING: daemon is not using the default seccomp profile",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEngineBridgeSkippedWithReason(t *testing.T) {
	for _, bridge := range [][]byte{nil, []byte("<html>")} {
		r := engineResult(t, AuditEngine(EngineFacts{Host: "web1", Info: engineFixture(t, "info-debian-20.10.json", nil), Bridge: bridge, Endpoint: engineUnixSock, Now: engineNow}), "engine-icc")
		if r.Status != Skipped || r.Reason == "" {
			t.Errorf("bridge %q: %s %q", bridge, r.Status, r.Reason)
		}
	}
}
