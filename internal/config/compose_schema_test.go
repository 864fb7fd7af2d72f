package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"go.yaml.in/yaml/v4"
)

func schemaIssues(t *testing.T, src string) []string {
	t.Helper()
	root, perr := parseYAML("c.yaml", []byte(src))
	if perr != nil {
		t.Fatal(perr)
	}
	e := &errs{}
	validateComposeFile(&composeFile{display: "c.yaml", root: root, data: []byte(src)}, e)
	var out []string
	for _, x := range e.list {
		out = append(out, x.Error())
	}
	return out
}

func TestComposeSchema(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"typo in a service key", "services:\n  web:\n    imgae: nginx\n",
			[]string{`c.yaml:3:5: services.web.imgae: unknown key "imgae"; did you mean "image"? (fix: rename it to image)`}},
		{"typo at top level", "service:\n  web: {image: nginx}\n",
			[]string{`c.yaml:1:1: service: unknown key "service"; did you mean "services"? (fix: rename it to services)`}},
		{"unknown key far from any", "services:\n  web:\n    image: nginx\n    frobnicate: 1\n",
			[]string{`c.yaml:4:5: services.web.frobnicate: unknown key "frobnicate" (fix: see the Compose Specification for the keys allowed here; custom keys start with x-)`}},
		{"every typo at once, in file order", "services:\n  web:\n    portz: [80]\n    imgae: nginx\n  db:\n    enviroment: {A: b}\n",
			[]string{
				`c.yaml:3:5: services.web.portz: unknown key "portz"; did you mean "ports"? (fix: rename it to ports)`,
				`c.yaml:4:5: services.web.imgae: unknown key "imgae"; did you mean "image"? (fix: rename it to image)`,
				`c.yaml:6:5: services.db.enviroment: unknown key "enviroment"; did you mean "environment"? (fix: rename it to environment)`,
			}},
		{"environment as a number", "services:\n  web:\n    image: nginx\n    environment: 5\n",
			[]string{`c.yaml:4:18: services.web.environment: must be a mapping or a list, not a number (fix: write key: value lines indented under it, or a list ([a, b], or one '- item' per line))`}},
		{"mem_limit not a size", "services:\n  web:\n    image: nginx\n    mem_limit: lots\n",
			[]string{`c.yaml:4:16: services.web.mem_limit: "lots" is not a size (fix: write a number of bytes with a unit, such as 512m or 2g)`}},
		{"duration without unit", "services:\n  web:\n    image: nginx\n    healthcheck: {interval: often}\n",
			[]string{`c.yaml:4:29: services.web.healthcheck.interval: "often" is not a duration (fix: write a duration with a unit, such as 500ms, 10s or 1m30s)`}},
		{"bad restart value", "services:\n  web:\n    image: nginx\n    restart: allways\n",
			[]string{`c.yaml:4:14: services.web.restart: unknown value "allways"; did you mean "always"? (fix: write always)`}},
		{"restart with a count", "services:\n  web:\n    image: nginx\n    restart: on-failure:3\n", nil},
		{"bad depends_on condition", "services:\n  web:\n    image: nginx\n    depends_on:\n      db: {condition: service_healty}\n  db:\n    image: pg\n",
			[]string{`c.yaml:5:23: services.web.depends_on.db.condition: unknown value "service_healty"; did you mean "service_healthy"? (fix: write service_healthy)`}},
		{"schema enum", "services:\n  web:\n    image: nginx\n    volumes:\n      - type: bnd\n        source: .\n        target: /x\n",
			[]string{`c.yaml:5:15: services.web.volumes[0].type: unknown value "bnd"; did you mean "bind"? (fix: write bind)`}},
		{"unknown key in long port syntax", "services:\n  web:\n    image: nginx\n    ports:\n      - target: 80\n        publishd: 8080\n",
			[]string{`c.yaml:6:9: services.web.ports[0].publishd: unknown key "publishd"; did you mean "published"? (fix: rename it to published)`}},
		{"wrong type in a list item", "services:\n  web:\n    image: nginx\n    cap_add: [{a: b}]\n",
			[]string{`c.yaml:4:15: services.web.cap_add[0]: must be a string, not a mapping (fix: write a single value instead of a mapping)`}},
		{"bool as a word", "services:\n  web:\n    image: nginx\n    read_only: maybe\n",
			[]string{`c.yaml:4:16: services.web.read_only: must be true or false, not a string (fix: write true or false)`}},
		{"bad service name", "services:\n  my web:\n    image: nginx\n",
			[]string{`c.yaml:2:3: services.my web: "my web" is not a valid name (fix: use letters, digits, '.', '_' and '-' only)`}},
		{"interpolated values are left to compose", "services:\n  web:\n    image: nginx\n    mem_limit: ${MEM}\n    read_only: ${RO:-true}\n    ports: ['${PORT}:80']\n", nil},
		{"x- extensions and merge keys", "x-base: &b {restart: always}\nservices:\n  web:\n    <<: *b\n    image: nginx\n    x-note: anything\n", nil},
		{"strings cast like compose-go does", "services:\n  web:\n    image: nginx\n    read_only: 'true'\n    cpu_shares: '512'\n", nil},
		{"!reset and !override", "services:\n  web:\n    image: nginx\n    command: !reset\n    ports: !override [80]\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schemaIssues(t, tt.src)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestComposeSchemaAgreesOnValid loads a file that uses most of the
// Compose Specification: compose-go's own validation accepts it, so berth's
// pass must find nothing either, or it would refuse valid projects.
func TestComposeSchemaAgreesOnValid(t *testing.T) {
	p := filepath.Join("testdata", "compose", "valid", "compose.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var dict map[string]any
	if err := yaml.Unmarshal(data, &dict); err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(dict); err != nil {
		t.Fatalf("compose-go rejects the sample, fix the sample: %v", err)
	}
	if got := schemaIssues(t, string(data)); len(got) > 0 {
		t.Errorf("berth's schema pass rejects a valid file:\n%s", strings.Join(got, "\n"))
	}
}

// TestComposeSchemaStableOrder runs the pass repeatedly: the same file must
// give the same errors in the same order every time (compose-go's own
// validation picks one in map order).
func TestComposeSchemaStableOrder(t *testing.T) {
	src := "services:\n  a:\n    imgae: x\n    portz: [1]\n  b:\n    enviroment: 5\n    command: {a: 1}\n"
	first := strings.Join(schemaIssues(t, src), "\n")
	for range 20 {
		if got := strings.Join(schemaIssues(t, src), "\n"); got != first {
			t.Fatalf("order changed:\n%s\nthen\n%s", first, got)
		}
	}
}

// TestComposeSchemaAliasBomb: aliases are followed, so a small file whose
// aliases expand to millions of values is refused instead of walked.
func TestComposeSchemaAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-env: &env\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "  V%d: x\n", i)
	}
	b.WriteString("x-svc: &svc {image: nginx, environment: *env, labels: *env}\nservices:\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "  s%d: *svc\n", i)
	}
	got := schemaIssues(t, b.String())
	if len(got) != 1 || !strings.Contains(got[0], "through anchors and aliases") {
		t.Errorf("got %d issues: %.300s", len(got), strings.Join(got, "\n"))
	}
}
