package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sameSpec compares specs treating empty and nil slices and maps alike:
// normCaps returns an empty slice for none, a literal in a table has nil.
func sameSpec(t *testing.T, got, want Spec) {
	t.Helper()
	norm := func(s Spec) Spec {
		if len(s.CapAdd) == 0 {
			s.CapAdd = nil
		}
		if len(s.CapDrop) == 0 {
			s.CapDrop = nil
		}
		if len(s.Labels) == 0 {
			s.Labels = nil
		}
		return s
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("got  %+v\nwant %+v", g, w)
	}
}

func TestFromSwarmService(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Spec
	}{
		{
			// docker service create --name shell --label team=platform --container-label team=ops
			//   --cap-add SYS_ADMIN --mount type=bind,src=/,dst=/host --publish 8080:80
			//   --env API_TOKEN=... --limit-memory 256M alpine:3.20 sleep 1d
			name: "what docker service create sends",
			body: `{"Name":"shell","Labels":{"team":"platform","tier":"tools"},
			 "TaskTemplate":{"ContainerSpec":{"Image":"alpine:3.20@sha256:beefdb4f2c5f1e0a3b7f1a2b2a4c9d4d0c1f0e9a8b7c6d5e4f3a2b1c0d9e8f7a",
			   "Labels":{"team":"ops"},"Args":["sleep","1d"],"Env":["API_TOKEN=s3cr3t"],
			   "Privileges":{"CredentialSpec":null,"SELinuxContext":null,"NoNewPrivileges":false},
			   "Mounts":[{"Type":"bind","Source":"/","Target":"/host"}],"StopGracePeriod":10000000000,
			   "DNSConfig":{},"CapabilityAdd":["CAP_SYS_ADMIN"],"Isolation":"default"},
			  "Resources":{"Limits":{"MemoryBytes":268435456},"Reservations":{}},"Placement":{},"ForceUpdate":0,"Runtime":"container"},
			 "Mode":{"Replicated":{"Replicas":1}},
			 "UpdateConfig":{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},
			 "EndpointSpec":{"Mode":"vip","Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080,"PublishMode":"ingress"}]}}`,
			want: Spec{UserUnknown: true,
				Name: "shell", Service: "shell", Image: "alpine:3.20@sha256:beefdb4f2c5f1e0a3b7f1a2b2a4c9d4d0c1f0e9a8b7c6d5e4f3a2b1c0d9e8f7a",
				Labels:        map[string]string{"team": "ops", "tier": "tools"},
				CapAdd:        []string{"SYS_ADMIN"},
				Mounts:        []Mount{{Type: "bind", Source: "/", Target: "/host"}},
				Env:           []EnvVar{{Name: "API_TOKEN", Value: "s3cr3t"}},
				Memory:        268435456,
				Ports:         []Port{{HostPort: 8080, ContainerPort: 80}},
				RestartPolicy: "always", // swarm's default condition is any
			},
		},
		{
			name: "hardened through the API",
			body: `{"Name":"api","TaskTemplate":{
			  "ContainerSpec":{"Image":"shop:1.4","User":"10001:10001","ReadOnly":true,
			   "Privileges":{"NoNewPrivileges":true,"Seccomp":{"Mode":"default"},"AppArmor":{"Mode":"default"}},
			   "CapabilityDrop":["ALL"],"CapabilityAdd":["net_bind_service"],
			   "Healthcheck":{"Test":["CMD","/app","health"],"Interval":10000000000},
			   "Mounts":[{"Type":"volume","Source":"data","Target":"/data"},{"Type":"tmpfs","Target":"/tmp"}]},
			  "Resources":{"Limits":{"NanoCPUs":500000000,"MemoryBytes":134217728,"Pids":100}},
			  "RestartPolicy":{"Condition":"on-failure","Delay":5000000000,"MaxAttempts":3},
			  "LogDriver":{"Name":"json-file","Options":{"max-size":"10m"}},
			  "Networks":[{"Target":"shop_default","Aliases":["api"]}]},
			 "EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":8443,"PublishedPort":8443,"PublishMode":"host"}]}}`,
			want: Spec{
				Name: "api", Service: "api", Image: "shop:1.4", User: "10001:10001", ReadOnlyRootfs: true,
				NoNewPrivileges: true, CapDrop: []string{"ALL"}, CapAdd: []string{"NET_BIND_SERVICE"},
				Healthcheck: true,
				Mounts:      []Mount{{Type: "volume", Source: "data", Target: "/data"}, {Type: "tmpfs", Target: "/tmp"}},
				NanoCPUs:    500000000, Memory: 134217728, PidsLimit: 100,
				RestartPolicy: "on-failure", RestartMaxRetry: 3,
				LogDriver: "json-file", LogOpts: map[string]string{"max-size": "10m"},
				Ports: []Port{{HostPort: 8443, ContainerPort: 8443}}, // host mode binds every interface too
			},
		},
		{
			name: "unconfined on the host network",
			body: `{"Name":"probe","TaskTemplate":{
			  "ContainerSpec":{"Image":"probe:2","Privileges":{"Seccomp":{"Mode":"unconfined"},"AppArmor":{"Mode":"disabled"}},
			   "Healthcheck":{"Test":["NONE"]},"Sysctls":{"net.ipv4.ip_forward":"1"}},
			  "RestartPolicy":{"Condition":"none"},
			  "Networks":[{"Target":"host"}]}}`,
			want: Spec{UserUnknown: true,
				Name: "probe", Service: "probe", Image: "probe:2", Seccomp: "unconfined", AppArmor: "unconfined",
				Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}, RestartPolicy: "no", NetworkMode: "host",
			},
		},
		{
			name: "custom seccomp profile",
			body: `{"Name":"p","TaskTemplate":{"ContainerSpec":{"Image":"p:1",
			  "Privileges":{"Seccomp":{"Mode":"custom","Profile":"eyJkZWZhdWx0QWN0aW9uIjoiU0NNUF9BQ1RfQUxMT1cifQ=="}}},
			  "RestartPolicy":{"Condition":"any","MaxAttempts":5}}}`,
			want: Spec{UserUnknown: true,
				Name: "p", Service: "p", Image: "p:1", Seccomp: `{"defaultAction":"SCMP_ACT_ALLOW"}`,
				RestartPolicy: "always", RestartMaxRetry: 5,
			},
		},
		{
			// Clients before API 1.44 put networks beside TaskTemplate.
			name: "host network in the deprecated top-level Networks",
			body: `{"Name":"old","Networks":[{"Target":"host"}],"TaskTemplate":{"ContainerSpec":{"Image":"old:1"}}}`,
			want: Spec{UserUnknown: true, Name: "old", Service: "old", Image: "old:1", NetworkMode: "host", RestartPolicy: "always"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromSwarmService([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			sameSpec(t, got, tt.want)
		})
	}
}

func TestFromSwarmServiceUnreadable(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ``},
		{"not JSON", `Name=web`},
		{"truncated", `{"Name":"web","TaskTemplate":{"ContainerSpec":`},
		{"null", `null`},
		{"an array", `[{"Name":"web"}]`},
		{"no TaskTemplate", `{"Name":"web"}`},
		{"no ContainerSpec", `{"Name":"web","TaskTemplate":{"Resources":{}}}`},
		{"a plugin task", `{"Name":"sshfs","TaskTemplate":{"Runtime":"plugin","PluginSpec":{"name":"vieux/sshfs","remote":"vieux/sshfs:latest","privileges":[{"name":"allow-all-devices","value":["true"]}]}}}`},
		{"mounts of the wrong type", `{"TaskTemplate":{"ContainerSpec":{"Image":"a","Mounts":"/:/host"}}}`},
		{"negative MaxAttempts", `{"TaskTemplate":{"ContainerSpec":{"Image":"a"},"RestartPolicy":{"MaxAttempts":-1}}}`},
		{"trailing data", `{"TaskTemplate":{"ContainerSpec":{"Image":"a"}}}{"TaskTemplate":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := FromSwarmService([]byte(tt.body)); err == nil {
				t.Errorf("accepted as %+v", s)
			}
		})
	}
}

func TestFromPluginPrivileges(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Spec
	}{
		{
			// What docker plugin install vieux/sshfs accepts.
			name: "sshfs",
			body: `[{"Name":"network","Description":"permissions to access a network","Value":["host"]},
			 {"Name":"mount","Description":"host path to mount","Value":["/var/lib/docker/plugins/"]},
			 {"Name":"device","Description":"host device to access","Value":["/dev/fuse"]},
			 {"Name":"capabilities","Description":"list of additional capabilities required","Value":["CAP_SYS_ADMIN"]}]`,
			want: Spec{
				Name: "vieux/sshfs:latest", NetworkMode: "host",
				Mounts:  []Mount{{Type: "bind", Source: "/var/lib/docker/plugins/", Target: "/var/lib/docker/plugins/"}},
				Devices: []string{"/dev/fuse"}, CapAdd: []string{"SYS_ADMIN"},
			},
		},
		{
			name: "every device and the host's namespaces",
			body: `[{"Name":"allow-all-devices","Description":"allow 'rwm' access to all devices","Value":["true"]},
			 {"Name":"host ipc namespace","Description":"allow access to host ipc namespace","Value":["true"]},
			 {"Name":"host pid namespace","Description":"allow access to host pid namespace","Value":["true"]},
			 {"Name":"mount","Description":"host path to mount","Value":["/var/run/docker.sock"]}]`,
			want: Spec{
				Name: "vieux/sshfs:latest", Privileged: true, IpcMode: "host", PidMode: "host",
				Mounts: []Mount{{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"}},
			},
		},
		// The Docker client sends its nil slice for a plugin that needs
		// nothing; the daemon reads it as no privileges.
		{name: "null", body: `null`, want: Spec{Name: "vieux/sshfs:latest"}},
		{name: "none", body: `[]`, want: Spec{Name: "vieux/sshfs:latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromPluginPrivileges([]byte(tt.body), "vieux/sshfs:latest")
			if err != nil {
				t.Fatal(err)
			}
			sameSpec(t, got, tt.want)
		})
	}
}

func TestFromPluginPrivilegesUnreadable(t *testing.T) {
	tests := []struct{ name, body string }{
		{"empty", ``},
		{"an object", `{"Name":"network","Value":["host"]}`},
		{"a string", `"network=host"`},
		{"truncated", `[{"Name":"network","Value":["host"]`},
		{"values of the wrong type", `[{"Name":"device","Value":"/dev/sda"}]`},
		{"an unknown privilege", `[{"Name":"device-creation","Value":["true"]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := FromPluginPrivileges([]byte(tt.body), "x"); err == nil {
				t.Errorf("accepted as %+v", s)
			}
		})
	}
}

// A plugin's privileges get the verdict of the container they describe:
// the ones that hand over the host block under the default policy.
func TestPluginPrivilegesBlock(t *testing.T) {
	s, err := FromPluginPrivileges([]byte(`[{"Name":"allow-all-devices","Value":["true"]},{"Name":"network","Value":["host"]}]`), "acme/netplug:1")
	if err != nil {
		t.Fatal(err)
	}
	blocking := ruleIDs(Blocking(Default().Evaluate(&s)))
	for _, id := range []string{"privileged", "host-network"} {
		if !slices.Contains(blocking, id) {
			t.Errorf("rule %s does not block; blocking: %v", id, blocking)
		}
	}
}

// The same settings through a container create body and through a swarm
// service spec get the same verdict: a service is no way around the rules.
func TestSwarmServiceMatchesCreateBody(t *testing.T) {
	tests := []struct {
		name      string
		container string
		service   string
		want      []string // found through both
		not       []string // found through neither
	}{
		{
			name: "risky",
			container: `{"Image":"shop:1.4","User":"0","Env":["DB_PASSWORD=hunter2"],
			 "HostConfig":{"CapAdd":["SYS_ADMIN","CAP_CHOWN"],"SecurityOpt":["seccomp=unconfined"],
			  "Binds":["/var/run/docker.sock:/var/run/docker.sock","/etc:/host-etc:ro"],
			  "PortBindings":{"8080/tcp":[{"HostIp":"","HostPort":"81"}]},
			  "Sysctls":{"net.ipv4.ip_unprivileged_port_start":"0"},"RestartPolicy":{"Name":"always"}}}`,
			service: `{"Name":"shop","TaskTemplate":{
			  "ContainerSpec":{"Image":"shop:1.4","User":"0","Env":["DB_PASSWORD=hunter2"],
			   "CapabilityAdd":["CAP_SYS_ADMIN","CAP_CHOWN"],"Privileges":{"Seccomp":{"Mode":"unconfined"}},
			   "Mounts":[{"Type":"bind","Source":"/var/run/docker.sock","Target":"/var/run/docker.sock"},
			    {"Type":"bind","Source":"/etc","Target":"/host-etc","ReadOnly":true}],
			   "Sysctls":{"net.ipv4.ip_unprivileged_port_start":"0"}},
			  "RestartPolicy":{"Condition":"any"}},
			 "EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":8080,"PublishedPort":81,"PublishMode":"ingress"}]}}`,
			want: []string{"dangerous-capabilities", "added-capabilities", "docker-socket", "sensitive-mount",
				"writable-bind-mount", "seccomp-unconfined", "root-user", "secret-in-env", "port-all-interfaces",
				"privileged-port", "sysctls", "no-memory-limit", "no-healthcheck", "writable-rootfs"},
		},
		{
			name: "host network without AppArmor",
			container: `{"Image":"probe:2","User":"nobody","HostConfig":{"NetworkMode":"host",
			  "SecurityOpt":["apparmor=unconfined","no-new-privileges:true"],"RestartPolicy":{"Name":"on-failure"}}}`,
			service: `{"Name":"probe","TaskTemplate":{
			  "ContainerSpec":{"Image":"probe:2","User":"nobody","Privileges":{"AppArmor":{"Mode":"disabled"},"NoNewPrivileges":true}},
			  "RestartPolicy":{"Condition":"on-failure"},"Networks":[{"Target":"host"}]}}`,
			want: []string{"host-network", "apparmor-unconfined", "restart-unbounded"},
			not:  []string{"no-new-privileges", "root-user"},
		},
		{
			name: "hardened",
			container: `{"Image":"shop:1.4","User":"10001","Healthcheck":{"Test":["CMD","/app","health"]},
			 "HostConfig":{"CapDrop":["ALL"],"CapAdd":["NET_BIND_SERVICE"],"SecurityOpt":["no-new-privileges:true"],
			  "ReadonlyRootfs":true,"Memory":134217728,"NanoCpus":500000000,"PidsLimit":100,
			  "RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},
			  "LogConfig":{"Type":"json-file","Config":{"max-size":"10m"}},
			  "Mounts":[{"Type":"volume","Source":"data","Target":"/data"}],
			  "PortBindings":{"8443/tcp":[{"HostIp":"","HostPort":"8443"}]}}}`,
			service: `{"Name":"shop","TaskTemplate":{
			  "ContainerSpec":{"Image":"shop:1.4","User":"10001","Healthcheck":{"Test":["CMD","/app","health"]},
			   "CapabilityDrop":["ALL"],"CapabilityAdd":["CAP_NET_BIND_SERVICE"],"Privileges":{"NoNewPrivileges":true},
			   "ReadOnly":true,"Mounts":[{"Type":"volume","Source":"data","Target":"/data"}]},
			  "Resources":{"Limits":{"MemoryBytes":134217728,"NanoCPUs":500000000,"Pids":100}},
			  "RestartPolicy":{"Condition":"on-failure","MaxAttempts":3},
			  "LogDriver":{"Name":"json-file","Options":{"max-size":"10m"}}},
			 "EndpointSpec":{"Ports":[{"Protocol":"tcp","TargetPort":8443,"PublishedPort":8443}]}}`,
			want: []string{"port-all-interfaces"},
			not: []string{"capabilities-not-dropped", "added-capabilities", "no-new-privileges", "root-user",
				"writable-rootfs", "no-memory-limit", "no-cpu-limit", "no-pids-limit", "restart-unbounded",
				"no-healthcheck", "no-log-rotation", "writable-bind-mount"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fromBody, err := FromCreateBody([]byte(tt.container), "shop")
			if err != nil {
				t.Fatal(err)
			}
			fromService, err := FromSwarmService([]byte(tt.service))
			if err != nil {
				t.Fatal(err)
			}
			a, b := ruleIDs(Default().Evaluate(&fromBody)), ruleIDs(Default().Evaluate(&fromService))
			if strings.Join(a, ",") != strings.Join(b, ",") {
				t.Errorf("create body %v\nservice     %v", a, b)
			}
			for _, id := range tt.want {
				if !slices.Contains(b, id) {
					t.Errorf("rule %s not found in %v", id, b)
				}
			}
			for _, id := range tt.not {
				if slices.Contains(b, id) {
					t.Errorf("rule %s found in %v", id, b)
				}
			}
		})
	}
}
