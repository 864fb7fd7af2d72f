package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/testenv"
)

func ruleIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		if !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
	}
	return ids
}

// risky breaks many rules at once, in ways every source can express.
func risky() engine.ContainerSpec {
	return engine.ContainerSpec{
		Image: "shop:latest", User: "0",
		CapAdd: []string{"SYS_ADMIN", "CHOWN"}, SecurityOpt: []string{"seccomp=unconfined"},
		PidMode: "host", IpcMode: "host",
		Mounts:  []engine.Mount{{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}, {Type: "bind", Source: "/etc", Target: "/host-etc", ReadOnly: true}},
		Devices: []engine.Device{{HostPath: "/dev/null", ContainerPath: "/dev/xnull", Permissions: "rwm"}},
		Env:     []string{"DB_PASSWORD=hunter2"},
		Restart: "on-failure",
		Ports:   []engine.PortBinding{{HostPort: 81, ContainerPort: 8080}},
	}
}

// The same settings through a create request body get the same verdict as
// through berth's own spec.
func TestCreateBodyMatchesEngineSpec(t *testing.T) {
	body := `{"Image":"shop:latest","User":"0","Env":["DB_PASSWORD=hunter2"],
	 "HostConfig":{"CapAdd":["SYS_ADMIN","CAP_CHOWN"],"SecurityOpt":["seccomp=unconfined"],"PidMode":"host","IpcMode":"host",
	  "Binds":["/var/run/docker.sock:/var/run/docker.sock","/etc:/host-etc:ro"],"Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull"}],
	  "RestartPolicy":{"Name":"on-failure"},"PortBindings":{"8080/tcp":[{"HostIp":"","HostPort":"81"}]}}}`
	fromBody, err := FromCreateBody([]byte(body), "x")
	if err != nil {
		t.Fatal(err)
	}
	fromEngine := FromEngine(risky(), "x")
	a, b := ruleIDs(Default().Evaluate(&fromEngine)), ruleIDs(Default().Evaluate(&fromBody))
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("engine spec %v\ncreate body %v", a, b)
	}
	if _, err := FromCreateBody([]byte(`{"HostConfig":`), "x"); err == nil {
		t.Errorf("a truncated body was accepted")
	}
}

// And a container the engine actually created, read back by inspect, gets
// the same verdict again: deploy time and audit time agree.
func TestInspectMatchesEngineSpec(t *testing.T) {
	eng := testenv.Engine(t)
	testenv.AppImage(t, eng, "berth-testapp:policy", "VERSION=policy")
	spec := risky()
	spec.Image = "berth-testapp:policy"
	spec.Name = "berth-policy-test-" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	ctx := context.Background()
	id, err := eng.CreateContainer(ctx, spec) // created, never started
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.RemoveContainer(context.Background(), id, true) })
	raw, err := eng.InspectContainerJSON(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	inspected, err := FromInspect(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	want := FromEngine(spec, "x")
	a, b := ruleIDs(Default().Evaluate(&want)), ruleIDs(Default().Evaluate(&inspected))
	// Two rules depend on what the engine fills in for settings a spec
	// leaves unset: the daemon's default log options (rotation) and, on a
	// cgroup v1 host, the default cgroup namespace (host). Every other
	// verdict must be the same.
	engineDefaults := []string{"no-log-rotation", "host-cgroupns"}
	strip := func(ids []string) []string {
		return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(engineDefaults, id) })
	}
	if x, y := strip(a), strip(b); strings.Join(x, ",") != strings.Join(y, ",") {
		t.Errorf("spec %v\ninspect %v", x, y)
	}
}
