package config

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/types"
)

const (
	docsFile  = "../../docs/compose.md"
	keysBegin = "<!-- compose keys: generated from internal/config/compose_keys.go; `go test ./internal/config -run TestComposeDoc -update` -->"
	keysEnd   = "<!-- end of compose keys -->"
)

var scopeTitles = map[string]string{
	"top":     "Top level",
	"service": "services.\\<name\\>",
	"deploy":  "services.\\<name\\>.deploy",
	"network": "networks.\\<name\\>",
	"volume":  "volumes.\\<name\\>",
	"config":  "configs.\\<name\\>",
	"secret":  "secrets.\\<name\\>",
}

// renderKeys is docs/compose.md's table, from composeKeys.
func renderKeys() string {
	var b strings.Builder
	b.WriteString(keysBegin + "\n")
	scope := ""
	for _, k := range composeKeys {
		if k.Scope != scope {
			scope = k.Scope
			fmt.Fprintf(&b, "\n### %s\n\n| key | | what berth does, or why it refuses |\n|---|---|---|\n", scopeTitles[scope])
		}
		if k.Honoured {
			fmt.Fprintf(&b, "| `%s` | honoured | %s |\n", k.Key, cell(k.Note))
		} else {
			fmt.Fprintf(&b, "| `%s` | **refused** | %s. Fix: %s |\n", k.Key, cell(k.Note), cell(k.Fix))
		}
	}
	b.WriteString("\n" + keysEnd + "\n")
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// The table in docs/compose.md is the Go table, word for word.
func TestComposeDocMatchesTable(t *testing.T) {
	data, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, keysBegin), strings.Index(doc, keysEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated section markers", docsFile)
	}
	got := doc[i : j+len(keysEnd)+1]
	want := renderKeys()
	if *update {
		if err := os.WriteFile(docsFile, []byte(doc[:i]+want+doc[j+len(keysEnd)+1:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("docs/compose.md's table differs from composeKeys; run: go test ./internal/config -run TestComposeDoc -update")
	}
}

// Every key compose-go's schema allows, and every key its types can carry,
// has a row: a key added upstream fails this test until someone decides
// whether berth honours it.
func TestComposeKeysCoverSchema(t *testing.T) {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal([]byte(schema.Schema), &s); err != nil {
		t.Fatal(err)
	}
	var props func(def string) []string
	props = func(def string) []string {
		var d struct {
			Properties map[string]json.RawMessage `json:"properties"`
			AllOf      []struct {
				Ref string `json:"$ref"`
			} `json:"allOf"`
		}
		if err := json.Unmarshal(s.Defs[def], &d); err != nil {
			t.Fatalf("schema $defs.%s: %v", def, err)
		}
		if d.Properties == nil && d.AllOf == nil {
			t.Fatalf("schema $defs.%s has no properties: has the schema changed shape?", def)
		}
		var out []string
		for k := range d.Properties {
			out = append(out, k)
		}
		for _, a := range d.AllOf {
			out = append(out, props(strings.TrimPrefix(a.Ref, "#/$defs/"))...)
		}
		return out
	}
	want := map[string][]string{
		"service": props("service"),
		"deploy":  props("deployment"),
		"network": props("network"),
		"volume":  props("volume"),
		"config":  props("config"),
		"secret":  props("secret"),
	}
	for k := range s.Properties {
		want["top"] = append(want["top"], k)
	}
	add := func(scope string, v any) {
		for _, k := range yamlKeys(reflect.TypeOf(v)) {
			if scope == "service" && k == "name" {
				continue // the service's map key, copied in by compose-go
			}
			want[scope] = append(want[scope], k)
		}
	}
	add("service", types.ServiceConfig{})
	add("deploy", types.DeployConfig{})
	add("network", types.NetworkConfig{})
	add("volume", types.VolumeConfig{})
	add("config", types.FileObjectConfig{})
	add("secret", types.FileObjectConfig{})
	for scope, keys := range want {
		if len(keys) < 5 {
			t.Errorf("only %d %s keys found in compose-go: has it changed shape?", len(keys), scope)
		}
		for _, k := range keys {
			if _, ok := keyIndex[[2]string{scope, k}]; !ok {
				t.Errorf("%s key %q (compose-go schema or types) has no row in composeKeys", scope, k)
			}
		}
	}
}

func TestComposeKeysTableWellFormed(t *testing.T) {
	order := []string{"top", "service", "deploy", "network", "volume", "config", "secret"}
	rank := map[string]int{}
	for i, s := range order {
		rank[s] = i
	}
	if len(keyIndex) != len(composeKeys) {
		t.Errorf("composeKeys has duplicate rows")
	}
	if !sort.SliceIsSorted(composeKeys, func(i, j int) bool {
		a, b := composeKeys[i], composeKeys[j]
		if a.Scope != b.Scope {
			return rank[a.Scope] < rank[b.Scope]
		}
		legacyA, legacyB := strings.Contains(a.Note, "legacy"), strings.Contains(b.Note, "legacy")
		if legacyA != legacyB {
			return !legacyA
		}
		return a.Key < b.Key
	}) {
		t.Errorf("composeKeys is not sorted by scope, then key (legacy keys last)")
	}
	for _, k := range composeKeys {
		if _, ok := rank[k.Scope]; !ok {
			t.Errorf("%s: unknown scope %q", k.Key, k.Scope)
		}
		if k.Note == "" || (!k.Honoured && k.Fix == "") || (k.Honoured && k.Fix != "") {
			t.Errorf("%s.%s: an honoured key says what berth does; a refused one why, and the fix", k.Scope, k.Key)
		}
	}
}

// build: without image: is a valid service (deploy builds it), and
// honoured keys of every kind load without a word.
func TestComposeHonouredKeysLoad(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"berth.yaml": "app: shop\nservices:\n  db: { accessory: true }\n",
		"Dockerfile": "FROM scratch\n",
		"compose.yaml": `name: ignored
services:
  web:
    build: { context: . }
    ulimits: { nofile: { soft: 1024, hard: 2048 } }
    shm_size: 64m
    gpus: all
    networks:
      default: {}
      back: { aliases: [api] }
    configs: [{ source: settings, target: /etc/settings, mode: 0440 }]
    secrets: [token]
    deploy:
      restart_policy: { condition: on-failure, max_attempts: 3 }
      resources: { reservations: { memory: 64M, devices: [{ capabilities: [gpu] }] } }
    develop: { watch: [{ path: ., action: rebuild }] }
    x-team: shop
  db:
    image: postgres:17
    networks: { back: { ipv4_address: 10.9.0.5 } }
networks:
  back: { ipam: { config: [{ subnet: 10.9.0.0/24 }] }, labels: { team: shop } }
configs:
  settings: { content: "a=1" }
secrets:
  token: { environment: TOKEN }
x-anchors: &a { b: c }
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(context.Background(), filepath.Join(dir, "berth.yaml"), LoadOptions{Env: map[string]string{"TOKEN": "s3cr3t-value"}}); err != nil {
		t.Fatalf("Load: %v", err)
	}
}
