package guard

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/berthhq/berth/internal/policy"
)

// TestDecisionLogRules: every decision line names the rules that fired,
// allowed or denied, as lists that are never null (before, an allowed
// create with --uts host logged "rules": null).
func TestDecisionLogRules(t *testing.T) {
	var logBuf bytes.Buffer
	p := policy.Default()
	p.Waivers = []policy.Waiver{{Rule: "devices", Label: "gpu=true", Reason: "CUDA", Guard: true}}
	srv := httptest.NewServer(Handler(func() Judge { return Judge{Policy: p} }, slog.New(slog.NewJSONHandler(&logBuf, nil))))
	defer srv.Close()
	hardened := `"User":"10001","HostConfig":{"CapDrop":["ALL"],"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"],"Memory":268435456,"NanoCpus":500000000,"PidsLimit":100,"LogConfig":{"Type":"json-file","Config":{"max-size":"10m"}}`
	for _, c := range []struct {
		name, body      string
		allow           bool
		rules, blocking []string
		waived          []string
	}{
		{"uts host, allowed with a warning", `{"Image":"shop:1.2",` + hardened + `,"UTSMode":"host"},"Healthcheck":{"Test":["CMD","/app","health"]}}`, true,
			[]string{"host-uts"}, []string{}, []string{}},
		{"nothing fired", `{"Image":"shop:1.2",` + hardened + `},"Healthcheck":{"Test":["CMD","/app","health"]}}`, true,
			[]string{}, []string{}, []string{}},
		{"privileged, denied, with its warnings", `{"Image":"shop:latest",` + hardened + `,"Privileged":true},"Healthcheck":{"Test":["CMD","/app","health"]}}`, false,
			[]string{"privileged", "mutable-image-tag"}, []string{"privileged"}, []string{}},
		{"a waived device", `{"Image":"shop:1.2","Labels":{"gpu":"true"},` + hardened + `,"Devices":[{"PathOnHost":"/dev/nvidia0"}]},"Healthcheck":{"Test":["CMD","/app","health"]}}`, true,
			[]string{}, []string{}, []string{"devices"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			logBuf.Reset()
			req, _ := json.Marshal(createReq(c.body))
			resp, err := http.Post(srv.URL+"/AuthZPlugin.AuthZReq", "application/json", bytes.NewReader(req))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var line struct {
				Allow                   bool
				Rules, Blocking, Waived *[]string
			}
			if err := json.Unmarshal(bytes.TrimSpace(logBuf.Bytes()), &line); err != nil {
				t.Fatalf("decision line %q: %v", logBuf.String(), err)
			}
			for name, got := range map[string]*[]string{"rules": line.Rules, "blocking": line.Blocking, "waived": line.Waived} {
				if got == nil || strings.Contains(logBuf.String(), `"`+name+`":null`) {
					t.Errorf("%s is null or missing: %s", name, logBuf.String())
				}
			}
			if t.Failed() {
				return
			}
			if line.Allow != c.allow || !slices.Equal(*line.Rules, c.rules) || !slices.Equal(*line.Blocking, c.blocking) || !slices.Equal(*line.Waived, c.waived) {
				t.Errorf("logged allow=%v rules=%v blocking=%v waived=%v, want %v %v %v %v",
					line.Allow, *line.Rules, *line.Blocking, *line.Waived, c.allow, c.rules, c.blocking, c.waived)
			}
		})
	}
}
