package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/policy"
)

func createReq(body string) Request {
	return Request{User: "alice", RequestMethod: "POST", RequestURI: "/v1.41/containers/create?name=x",
		RequestBody: []byte(body), RequestHeaders: map[string]string{"Content-Type": "application/json"}}
}

func jsonReq(uri, body string) Request {
	return Request{User: "alice", RequestMethod: "POST", RequestURI: uri,
		RequestBody: []byte(body), RequestHeaders: map[string]string{"Content-Type": "application/json"}}
}

func TestDecide(t *testing.T) {
	j := Judge{Policy: policy.Default()}
	for _, c := range []struct {
		name  string
		req   Request
		allow bool
		want  string
	}{
		{"plain container", createReq(`{"Image":"shop:1.2","User":"10001","HostConfig":{}}`), true, ""},
		{"privileged", createReq(`{"Image":"shop:1.2","HostConfig":{"Privileged":true}}`), false, "rule privileged"},
		{"docker socket bind", createReq(`{"Image":"x:1","HostConfig":{"Binds":["/var/run/docker.sock:/s"]}}`), false, "rule docker-socket"},
		{"host pid", createReq(`{"Image":"x:1","HostConfig":{"PidMode":"host"}}`), false, "rule host-pid"},
		{"cap_add SYS_ADMIN", createReq(`{"Image":"x:1","HostConfig":{"CapAdd":["SYS_ADMIN"]}}`), false, "rule dangerous-capabilities"},
		{"no body (over the forwarding limit)", func() Request { r := createReq(""); return r }(), false, "not visible"},
		{"not JSON", func() Request {
			r := createReq(`{}`)
			r.RequestHeaders = map[string]string{"Content-Type": "text/plain"}
			return r
		}(), false, "not JSON"},
		{"truncated JSON", createReq(`{"Image":"x:1","HostConfig":{"Privileged":tr`), false, "cannot be read"},
		{"privileged exec", Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/abc/exec", RequestBody: []byte(`{"Privileged":true,"Cmd":["sh"]}`), RequestHeaders: map[string]string{"Content-Type": "application/json"}}, false, "privileged exec"},
		{"exec as root", Request{RequestMethod: "POST", RequestURI: "/containers/abc/exec", RequestBody: []byte(`{"User":"root","Cmd":["sh"]}`), RequestHeaders: map[string]string{"Content-Type": "application/json"}}, false, "exec as root"},
		{"exec as the container's user", Request{RequestMethod: "POST", RequestURI: "/containers/abc/exec", RequestBody: []byte(`{"Cmd":["ls"]}`), RequestHeaders: map[string]string{"Content-Type": "application/json"}}, true, ""},
		{"service create without a body", Request{RequestMethod: "POST", RequestURI: "/v1.41/services/create"}, false, "not visible"},
		{"service create with SYS_ADMIN", jsonReq("/v1.41/services/create", `{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"x:1","CapabilityAdd":["CAP_SYS_ADMIN"]}}}`), false, "rule dangerous-capabilities"},
		{"service update binding /", jsonReq("/v1.41/services/abc/update?version=3", `{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"x:1","Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}}}`), false, "rule sensitive-mount"},
		{"service rollback", jsonReq("/v1.41/services/abc/update?version=3&rollback=previous", `{}`), false, "previous spec"},
		{"least-privilege service", jsonReq("/v1.41/services/create", `{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"x:1","User":"10001"}}}`), true, ""},
		{"service spec unreadable", jsonReq("/services/create", `{"Name":"s"}`), false, "cannot be read"},
		{"plugin with all devices", jsonReq("/v1.41/plugins/pull?remote=evil/p:1&name=p", `[{"Name":"allow-all-devices","Value":["true"]}]`), false, "rule privileged"},
		{"plugin with host network", jsonReq("/v1.41/plugins/pull?remote=vieux/sshfs", `[{"Name":"network","Value":["host"]}]`), false, "rule host-network"},
		{"plugin with no privileges", jsonReq("/v1.41/plugins/pull?remote=ok/p", `null`), true, ""},
		{"plugin upgrade mounting /etc", jsonReq("/v1.41/plugins/p/upgrade?remote=x/p:2", `[{"Name":"mount","Value":["/etc"]}]`), false, "rule sensitive-mount"},
		{"plugin from an archive", jsonReq("/v1.41/plugins/create?name=p", `{}`), false, "uploaded archive"},
		{"plugin set", jsonReq("/v1.41/plugins/p/set", `["DEBUG=1"]`), false, "settings"},
		{"pull is allowed without an allow-list", Request{RequestMethod: "POST", RequestURI: "/v1.41/images/create?fromImage=evil.io/x&tag=1"}, true, ""},
		{"build on the host network", Request{RequestMethod: "POST", RequestURI: "/v1.41/build?t=x&networkmode=host"}, false, "rule host-network"},
		{"build", Request{RequestMethod: "POST", RequestURI: "/v1.41/build?t=x"}, true, ""},
		{"no method", Request{RequestURI: "/v1.41/containers/create"}, false, "no method"},
		{"a GET is allowed", Request{RequestMethod: "GET", RequestURI: "/v1.41/containers/json"}, true, ""},
		{"start is allowed", Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/abc/start"}, true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := j.Decide(c.req)
			if d.Allow != c.allow || !strings.Contains(d.Msg, c.want) {
				t.Errorf("allow=%v msg=%q, want allow=%v and %q", d.Allow, d.Msg, c.allow, c.want)
			}
		})
	}
}

// The protocol over HTTP: activation, a denial with its message, and a
// body the plugin cannot parse denied rather than crashing it.
func TestHandler(t *testing.T) {
	var logBuf bytes.Buffer
	srv := httptest.NewServer(Handler(func() Judge { return Judge{Policy: policy.Default()} }, slog.New(slog.NewJSONHandler(&logBuf, nil))))
	defer srv.Close()
	post := func(path, body string) map[string]any {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return out
	}
	if got := post("/Plugin.Activate", ""); got["Implements"].([]any)[0] != "authz" {
		t.Errorf("activate: %v", got)
	}
	req, _ := json.Marshal(createReq(`{"Image":"x:1","HostConfig":{"Privileged":true}}`))
	if got := post("/AuthZPlugin.AuthZReq", string(req)); got["Allow"] != false || !strings.Contains(got["Msg"].(string), "privileged") {
		t.Errorf("privileged create: %v", got)
	}
	if got := post("/AuthZPlugin.AuthZReq", `{"RequestBody": "not base64 !!"`); got["Allow"] != false {
		t.Errorf("garbage: %v", got)
	}
	if got := post("/AuthZPlugin.AuthZRes", `{}`); got["Allow"] != true {
		t.Errorf("response phase: %v", got)
	}
	if !strings.Contains(logBuf.String(), `"allow":false`) || !strings.Contains(logBuf.String(), `"user":"alice"`) {
		t.Errorf("decisions are not logged: %s", logBuf.String())
	}
}

// FuzzDecide: whatever the body, the judge returns a verdict and never
// panics; a create it cannot read is never allowed.
// judgedURIs are the endpoints whose bodies the guard reads.
var judgedURIs = []string{
	"/v1.41/containers/create?name=x",
	"/v1.41/containers/abc/exec",
	"/v1.41/services/create",
	"/v1.41/services/abc/update?version=2",
	"/v1.41/plugins/pull?remote=x/p:1",
	"/v1.41/plugins/p/upgrade?remote=x/p:2",
}

// FuzzDecide feeds arbitrary bodies to every judged endpoint: the judge
// never panics, and a body that is not JSON is never allowed.
func FuzzDecide(f *testing.F) {
	f.Add(uint8(0), []byte(`{"Image":"x:1","HostConfig":{"Privileged":true}}`))
	f.Add(uint8(0), []byte(`{"HostConfig":{"Binds":["/:/h"]}}`))
	f.Add(uint8(0), []byte(`{`))
	f.Add(uint8(1), []byte(`{"Privileged":true,"User":"root"}`))
	f.Add(uint8(2), []byte(`{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"x","Mounts":[{"Type":"bind","Source":"/"}]}}}`))
	f.Add(uint8(3), []byte(`{"TaskTemplate":{"ContainerSpec":{"CapabilityAdd":["CAP_SYS_ADMIN"]}}}`))
	f.Add(uint8(4), []byte(`[{"Name":"allow-all-devices","Value":["true"]}]`))
	f.Add(uint8(5), []byte(`null`))
	j := Judge{Policy: policy.Default()}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		uri := judgedURIs[int(which)%len(judgedURIs)]
		d := decide(j, jsonReq(uri, string(body)))
		if d.Err != "" {
			t.Fatalf("%s: the judge panicked on %q: %s", uri, body, d.Err)
		}
		if d.Allow && !json.Valid(body) {
			t.Errorf("%s: an unreadable body was allowed: %q", uri, body)
		}
	})
}

// FuzzHandler feeds arbitrary bytes as the engine's AuthZReq: the plugin
// answers every one with a verdict, and allows none it cannot read.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"RequestMethod":"POST","RequestUri":"/containers/create","RequestBody":"e30=","RequestHeaders":{"Content-Type":"application/json"}}`))
	f.Add([]byte(`{"RequestMethod":"GET","RequestUri":"/_ping"}`))
	f.Add([]byte(`{"RequestBody":"!!"}`))
	f.Add([]byte(`{`))
	h := Handler(func() Judge { return Judge{Policy: policy.Default()} }, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/AuthZPlugin.AuthZReq", bytes.NewReader(raw)))
		var r Response
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("answer is not a verdict: %q", rec.Body.String())
		}
		var req Request
		if r.Allow && json.Unmarshal(raw, &req) != nil {
			t.Errorf("an unreadable AuthZReq was allowed: %q", raw)
		}
	})
}

func TestRegistryAllowList(t *testing.T) {
	p := policy.Default()
	p.Registries = []string{"registry.internal:5000"}
	j := Judge{Policy: p}
	for uri, allow := range map[string]bool{
		"/v1.41/images/create?fromImage=registry.internal:5000/shop/web&tag=1": true,
		"/v1.41/images/create?fromImage=evil.io/miner&tag=latest":              false,
		"/v1.41/images/create?fromImage=nginx":                                 false,
		"/v1.41/images/create?fromSrc=-&repo=local/x":                          true, // an import, not a pull
	} {
		d := j.Decide(Request{RequestMethod: "POST", RequestURI: uri})
		if d.Allow != allow {
			t.Errorf("%s: allow=%v msg=%q, want %v", uri, d.Allow, d.Msg, allow)
		}
		if !allow && !strings.Contains(d.Msg, "registry-not-allowed") {
			t.Errorf("%s: message %q does not name the rule", uri, d.Msg)
		}
	}
	d := j.Decide(createReq(`{"Image":"evil.io/miner:1","User":"1"}`))
	if d.Allow || !strings.Contains(d.Msg, "registry-not-allowed") {
		t.Errorf("container of a foreign image: %+v", d)
	}
}

// A bind source that is a symlink to / or to the Docker socket, or that
// climbs there with "..", is judged as where it leads.
func TestBindSourcesResolved(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/", filepath.Join(dir, "root")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/var/run", filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "cfg")); err != nil {
		t.Fatal(err)
	}
	j := Judge{Policy: policy.Default()}
	for _, c := range []struct {
		source, rule string
	}{
		{filepath.Join(dir, "root"), "sensitive-mount"},
		{filepath.Join(dir, "run") + "/docker.sock", "docker-socket"},
		{filepath.Join(dir, "cfg"), "sensitive-mount"},
		{dir + "/../../../../../../etc", "sensitive-mount"},
		{filepath.Join(dir, "root", "not-yet", ".."), "sensitive-mount"},
	} {
		for _, body := range []string{
			fmt.Sprintf(`{"Image":"x:1","User":"1","HostConfig":{"Binds":[%q]}}`, c.source+":/mnt:ro"),
			fmt.Sprintf(`{"Image":"x:1","User":"1","HostConfig":{"Mounts":[{"Type":"bind","Source":%q,"Target":"/mnt","ReadOnly":true}]}}`, c.source),
		} {
			d := j.Decide(createReq(body))
			if d.Allow || !strings.Contains(d.Msg, "rule "+c.rule) || !strings.Contains(d.Msg, "resolves to") {
				t.Errorf("bind %s: allow=%v msg=%q, want denied by %s with the resolved path", c.source, d.Allow, d.Msg, c.rule)
			}
		}
	}
	// An ordinary directory of the app's own stays allowed.
	own := filepath.Join(dir, "data")
	if err := os.Mkdir(own, 0o755); err != nil {
		t.Fatal(err)
	}
	if d := j.Decide(createReq(fmt.Sprintf(`{"Image":"x:1","User":"1","HostConfig":{"Binds":[%q]}}`, own+":/data:ro"))); !d.Allow {
		t.Errorf("own directory denied: %s", d.Msg)
	}
}

func TestResolveHostPath(t *testing.T) {
	dir := t.TempDir()
	_ = os.Symlink("/", filepath.Join(dir, "l"))
	for in, want := range map[string]string{
		"/etc/../etc/./passwd":            "/etc/passwd",
		filepath.Join(dir, "l"):           "/",
		filepath.Join(dir, "l", "etc"):    "/etc",
		filepath.Join(dir, "l", "nope/x"): "/nope/x",
		"relative/../..":                  "/",
	} {
		if got := ResolveHostPath(in); got != want {
			t.Errorf("ResolveHostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A waiver lets the request through and is named in the decision, so the
// log shows every excused rule.
func TestWaiverInDecision(t *testing.T) {
	p := policy.Default()
	p.Waivers = []policy.Waiver{{Rule: "devices", Label: "gpu=true", Reason: "CUDA needs /dev/nvidia0"}}
	j := Judge{Policy: p}
	d := j.Decide(createReq(`{"Image":"x:1","User":"1","Labels":{"gpu":"true"},"HostConfig":{"Devices":[{"PathOnHost":"/dev/nvidia0"}]}}`))
	if !d.Allow || len(d.Waived) != 1 || d.Waived[0] != "devices" {
		t.Fatalf("waived device: %+v", d)
	}
	d = j.Decide(createReq(`{"Image":"x:1","User":"1","HostConfig":{"Devices":[{"PathOnHost":"/dev/nvidia0"}]}}`))
	if d.Allow {
		t.Fatal("the waiver covered a container without its label")
	}
}

// BenchmarkHandlerCreate is one judged container create through the
// protocol handler, decision logged to a file: the guard's own work per
// request, without the engine's round trips.
func BenchmarkHandlerCreate(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "decisions.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := Handler(func() Judge { return Judge{Policy: policy.Default()} }, slog.New(slog.NewJSONHandler(f, nil)))
	body, _ := json.Marshal(Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/create?name=b1",
		RequestBody:    []byte(`{"Image":"berth-it/app:1.0","User":"10001","HostConfig":{"CapDrop":["ALL"],"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"],"Memory":67108864}}`),
		RequestHeaders: map[string]string{"Content-Type": "application/json"}})
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/AuthZPlugin.AuthZReq", bytes.NewReader(body)))
		if !strings.Contains(rec.Body.String(), `"Allow":true`) {
			b.Fatal(rec.Body.String())
		}
	}
}

// The holes a review found, each closed: the request must be denied, and
// the message must say why.
func TestReviewHoles(t *testing.T) {
	j := Judge{Policy: policy.Default(), Resolve: func(p string) string {
		if p == "/lib" {
			return "/usr/lib" // a merged-/usr host
		}
		return p
	}}
	img := `"Image":"x:1","User":"10001"`
	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"version with a patch number", jsonReq("/v1.41.0/containers/create", `{`+img+`,"HostConfig":{"Privileged":true}}`), "rule privileged"},
		{"version with a trailing dot", jsonReq("/v1.41./containers/create", `{`+img+`,"HostConfig":{"Privileged":true}}`), "rule privileged"},
		{"double slash", jsonReq("/v1.41//containers//create", `{`+img+`,"HostConfig":{"Privileged":true}}`), "rule privileged"},
		{"host settings at the top level", jsonReq("/v1.41/containers/create", `{`+img+`,"Privileged":true,"Binds":["/etc:/h"],"CapAdd":["SYS_ADMIN"]}`), "rule privileged"},
		{"decoy Config", jsonReq("/v1.41/containers/create", `{"Image":"x:1","User":"0","Config":{"User":"10001"},"HostConfig":{"PidMode":"host"}}`), "rule host-pid"},
		{"start with a body", jsonReq("/v1.41/containers/abc/start", `{"Privileged":true}`), "start request with a body"},
		{"old API version", Request{RequestMethod: "POST", RequestURI: "/v1.23/containers/abc/start"}, "before 1.24"},
		{"systempaths=unconfined", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"MaskedPaths":[],"ReadonlyPaths":[]}}`), "rule systempaths-unconfined"},
		{"read-only paths dropped", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"ReadonlyPaths":["/proc/bus"]}}`), "rule systempaths-unconfined"},
		{"device cgroup rule", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"DeviceCgroupRules":["b *:* rwm"]}}`), "rule devices"},
		{"device request", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"DeviceRequests":[{"Driver":"nvidia","Count":-1,"Capabilities":[["gpu"]]}]}}`), "rule devices"},
		{"volume mount that binds /etc", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"Mounts":[{"Type":"volume","Target":"/h","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/etc"}}}}]}}`), "rule sensitive-mount"},
		{"volume create binding /", jsonReq("/v1.41/volumes/create", `{"Name":"v","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/"}}`), "rule sensitive-mount"},
		{"service volume binding /etc", jsonReq("/v1.41/services/create", `{"Name":"s","TaskTemplate":{"ContainerSpec":{`+img+`,"Mounts":[{"Type":"volume","Target":"/h","VolumeOptions":{"DriverConfig":{"Options":{"o":"bind","device":"/etc"}}}}]}}}`), "rule sensitive-mount"},
		{"the guard's own socket directory", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"Binds":["/run/docker/plugins:/p"]}}`), "rule sensitive-mount"},
		{"/usr/local/bin", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"Binds":["/usr/local/bin:/b"]}}`), "rule sensitive-mount"},
		{"someone's ssh keys", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"Binds":["/home/admin/.ssh:/k:ro"]}}`), "rule sensitive-mount"},
		{"/lib on a merged-/usr host", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"Binds":["/lib:/l"]}}`), "rule sensitive-mount"},
		{"swarm join", jsonReq("/v1.41/swarm/join", `{"RemoteAddrs":["10.0.0.1:2377"],"JoinToken":"x"}`), "joining a swarm"},
		{"promote a node", jsonReq("/v1.41/nodes/n1/update?version=3", `{"Role":"manager","Availability":"active"}`), "promotion"},
		{"form body", Request{RequestMethod: "POST", RequestURI: "/v1.41/images/create", RequestHeaders: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, "form body"},
		{"exec as uid 00", jsonReq("/v1.41/containers/abc/exec", `{"User":"00"}`), "rule root-user"},
		{"exec as +0:0", jsonReq("/v1.41/containers/abc/exec", `{"User":"+0:0"}`), "rule root-user"},
		{"label=disable", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"SecurityOpt":["label=disable"]}}`), "rule selinux-disabled"},
		{"seccomp profile allowing everything", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"SecurityOpt":["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"]}}`), "rule seccomp-unconfined"},
		{"swarm plugin task with a decoy container", jsonReq("/v1.41/services/create", `{"Name":"s","TaskTemplate":{"Runtime":"plugin","ContainerSpec":{`+img+`}}}`), "cannot be read"},
	} {
		d := j.Decide(c.req)
		if d.Allow || !strings.Contains(d.Msg, c.want) {
			t.Errorf("%s: allow=%v msg=%q, want denied with %q", c.name, d.Allow, d.Msg, c.want)
		}
	}
	// And what must stay allowed.
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"swarm init", jsonReq("/v1.41/swarm/init", `{"ListenAddr":"0.0.0.0:2377"}`)},
		{"a plain named volume", jsonReq("/v1.41/volumes/create", `{"Name":"data"}`)},
		{"drain a node", jsonReq("/v1.41/nodes/n1/update?version=3", `{"Role":"worker","Availability":"drain"}`)},
		{"start without a body", Request{RequestMethod: "POST", RequestURI: "/v1.41/containers/abc/start"}},
		{"a version path", Request{RequestMethod: "GET", RequestURI: "/version"}},
		{"seccomp profile denying by default", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"SecurityOpt":["seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\"}"]}}`)},
		{"zoneinfo read-only", jsonReq("/v1.41/containers/create", `{`+img+`,"HostConfig":{"Binds":["/usr/share/zoneinfo:/usr/share/zoneinfo:ro"]}}`)},
	} {
		if d := j.Decide(c.req); !d.Allow {
			t.Errorf("%s: denied: %s", c.name, d.Msg)
		}
	}
}

// At the guard, names and labels are the requester's: only waivers marked
// guard: true count, and exec follows the rule's mode.
func TestGuardWaiversAndModes(t *testing.T) {
	p := policy.Default()
	p.Waivers = []policy.Waiver{
		{Rule: "privileged", Container: "monitoring", Reason: "node exporter"},
		{Rule: "devices", Container: "gpu-worker", Reason: "CUDA", Guard: true},
	}
	j := Judge{Policy: ForGuard(p)}
	if d := j.Decide(jsonReq("/v1.41/containers/create?name=monitoring", `{"Image":"x:1","User":"1","HostConfig":{"Privileged":true}}`)); d.Allow {
		t.Error("a waiver not marked guard: true let a privileged container through the guard")
	}
	if d := j.Decide(jsonReq("/v1.41/containers/create?name=gpu-worker", `{"Image":"x:1","User":"1","HostConfig":{"Devices":[{"PathOnHost":"/dev/nvidia0"}]}}`)); !d.Allow {
		t.Errorf("a guard waiver was not honoured: %s", d.Msg)
	}
	// A body Name does not claim a waiver: the name is the query's.
	if d := j.Decide(jsonReq("/v1.41/containers/create?name=other", `{"Name":"gpu-worker","Image":"x:1","User":"1","HostConfig":{"Devices":[{"PathOnHost":"/dev/nvidia0"}]}}`)); d.Allow {
		t.Error("a Name in the body claimed a waiver")
	}
	warn := policy.Default()
	warn.Mode = policy.Warn
	if d := (Judge{Policy: warn}).Decide(jsonReq("/v1.41/containers/abc/exec", `{"Privileged":true,"User":"root"}`)); !d.Allow {
		t.Errorf("in warn mode exec was denied: %s", d.Msg)
	}
}
