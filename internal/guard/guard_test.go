package guard

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/policy"
)

func createReq(body string) Request {
	return Request{User: "alice", RequestMethod: "POST", RequestURI: "/v1.41/containers/create?name=x",
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
		{"service create is not judged yet: denied", Request{RequestMethod: "POST", RequestURI: "/v1.41/services/create"}, false, "cannot judge"},
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
func FuzzDecide(f *testing.F) {
	f.Add([]byte(`{"Image":"x:1","HostConfig":{"Privileged":true}}`))
	f.Add([]byte(`{"HostConfig":{"Binds":["/:/h"]}}`))
	f.Add([]byte(`{`))
	j := Judge{Policy: policy.Default()}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := decide(j, createReq(string(body)))
		if d.Allow && !json.Valid(body) {
			t.Errorf("an unreadable create body was allowed: %q", body)
		}
	})
}
