package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

func portsService(t *testing.T, name string, accessory bool, short ...string) *config.Service {
	t.Helper()
	svc := &config.Service{Name: name, Accessory: accessory, Hosts: []string{"h"}}
	for _, s := range short {
		ps, err := types.ParsePortConfig(s)
		if err != nil {
			t.Fatal(err)
		}
		svc.Compose.Ports = append(svc.Compose.Ports, ps...)
	}
	return svc
}

func TestServicePorts(t *testing.T) {
	svc := portsService(t, "dns", false, "127.0.0.1:5353:53/udp", "8000-8001:9000-9001", "7000")
	svc.Compose.Ports = append(svc.Compose.Ports, types.ServicePortConfig{Target: 80, Published: "8080-8090", HostIP: "::1", Protocol: "tcp"})
	got, err := servicePorts(svc)
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, b := range got {
		desc = append(desc, describeBinding(b))
	}
	want := "127.0.0.1:5353->53/udp 0.0.0.0:8000->9000/tcp 0.0.0.0:8001->9001/tcp 0.0.0.0:(any)->7000/tcp [::1]:8080-8090->80/tcp"
	if strings.Join(desc, " ") != want {
		t.Errorf("bindings:\n got %s\nwant %s", strings.Join(desc, " "), want)
	}
	ls := forwardListeners(got)
	if len(ls) != 5 || ls[0].Port != 53 || ls[0].Proto != "udp" {
		t.Errorf("listeners: %v", ls)
	}

	// A replaceable service exposes, an accessory publishes.
	svc.Compose.Expose = types.StringOrNumberList{"3000-3001", "53/udp"}
	var spec engine.ContainerSpec
	if err := applyPorts(svc, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Ports) != 0 || strings.Join(spec.ExposedPorts, " ") != "3000/tcp 3001/tcp 53/udp 7000/tcp 80/tcp 9000/tcp 9001/tcp" {
		t.Errorf("replaceable: ports %v exposed %v", spec.Ports, spec.ExposedPorts)
	}
	svc.Accessory = true
	spec = engine.ContainerSpec{}
	if err := applyPorts(svc, &spec); err != nil || len(spec.Ports) != 5 {
		t.Errorf("accessory: ports %v err %v", spec.Ports, err)
	}
}

func TestServicePortsRefused(t *testing.T) {
	for _, tc := range []struct {
		p    types.ServicePortConfig
		want string
	}{
		{types.ServicePortConfig{Target: 1, Protocol: "sctp"}, "not sctp"},
		{types.ServicePortConfig{Target: 1, Protocol: "icmp"}, "not one Docker publishes"},
		{types.ServicePortConfig{Target: 1, HostIP: "localhost"}, "not an IP address"},
		{types.ServicePortConfig{Target: 1, Published: "90-80"}, "not a port or a range"},
		{types.ServicePortConfig{Target: 0}, "1-65535"},
	} {
		svc := &config.Service{Name: "x"}
		svc.Compose.Ports = []types.ServicePortConfig{tc.p}
		_, err := servicePorts(svc)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("%+v: %v (want %q)", tc.p, err, tc.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	b := func(ip string, port, end int, proto string) engine.PortBinding {
		return engine.PortBinding{HostIP: ip, HostPort: port, HostPortEnd: end, Protocol: proto}
	}
	for _, tc := range []struct {
		a, b engine.PortBinding
		want bool
	}{
		{b("", 80, 0, "tcp"), b("127.0.0.1", 80, 0, "tcp"), true},
		{b("127.0.0.1", 80, 0, "tcp"), b("127.0.0.2", 80, 0, "tcp"), false},
		{b("127.0.0.1", 80, 0, "tcp"), b("127.0.0.1", 80, 0, "udp"), false},
		{b("0.0.0.0", 85, 0, "tcp"), b("10.0.0.1", 80, 90, "tcp"), true},
		{b("", 0, 0, "tcp"), b("", 0, 0, "tcp"), false},
		{b("::", 53, 0, "udp"), b("::1", 53, 0, "udp"), true},
	} {
		if got := overlaps(tc.a, tc.b); got != tc.want {
			t.Errorf("overlaps(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestTakenBinding(t *testing.T) {
	bs := []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: 5432, ContainerPort: 5432}, {HostPort: 53, ContainerPort: 53, Protocol: "udp"}}
	for msg, want := range map[string]string{
		"driver failed programming external connectivity: Bind for 0.0.0.0:53 failed: port is already allocated": "0.0.0.0:53->53/udp",
		"Error starting userland proxy: listen tcp4 127.0.0.1:5432: bind: address already in use":                "127.0.0.1:5432->5432/tcp",
		"something else": "one of 127.0.0.1:5432->5432/tcp, 0.0.0.0:53->53/udp",
	} {
		if got := takenBinding(errors.New(msg), bs); got != want {
			t.Errorf("%s: %q, want %q", msg, got, want)
		}
	}
}

// TestCheckPortsInApp: two services of one app on one host port are named
// before any engine is asked anything.
func TestCheckPortsInApp(t *testing.T) {
	web := portsService(t, "web", false, "127.0.0.1:8443:443")
	dns := portsService(t, "dns", false, "8443:53")
	d := &Deployer{Cfg: &config.Config{App: "shop", Hosts: []config.Host{{Name: "h"}}, Services: []*config.Service{web, dns}}}
	err := d.checkPorts(context.Background(), []*config.Service{dns})
	var pc *PortConflictError
	var taken *PortTakenError
	if !errors.As(err, &pc) || !errors.As(err, &taken) {
		t.Fatalf("want a port conflict that maps to exit 6, got %v", err)
	}
	for _, want := range []string{"host h", "service dns", "0.0.0.0:8443->53/tcp", "service web of this app", "fix:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestForwarderSpec: the forwarder listens on each container port once per
// protocol, publishes every binding, needs no capability, and its hash
// ignores berth's image (an upgrade must not recreate it).
func TestForwarderSpec(t *testing.T) {
	svc := portsService(t, "dns", false, "127.0.0.1:5353:53/udp", "5353:53", "127.0.0.2:5354:53/udp")
	cfg := &config.Config{App: "shop"}
	bindings, err := servicePorts(svc)
	if err != nil {
		t.Fatal(err)
	}
	a, err := forwarderSpec(cfg, svc, "berth:1", bindings)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := forwarderSpec(cfg, svc, "berth:2", bindings)
	if a.Labels["berth.config-hash"] != b.Labels["berth.config-hash"] {
		t.Error("the forwarder's hash depends on berth's image")
	}
	if got := strings.Join(a.Cmd, " "); !strings.Contains(got, "--listen tcp/53 --listen udp/53") || strings.Count(got, "--listen") != 2 {
		t.Errorf("cmd: %s", got)
	}
	if a.Name != "shop-dns-ports" || len(a.Ports) != 3 || a.CapDrop[0] != "ALL" || a.Sysctls["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("spec: %+v", a)
	}
	if a.Labels["berth.role"] != RoleForwarder || a.Labels["berth.app"] != "shop" || a.Labels["berth.service"] != "dns" {
		t.Errorf("labels: %v", a.Labels)
	}
	if a.Networks[AppNetwork("shop")] == nil && len(a.NetworkOrder) != 1 {
		t.Errorf("networks: %v", a.Networks)
	}
	svc2 := portsService(t, "dns", false, "127.0.0.1:5355:53/udp")
	bindings2, _ := servicePorts(svc2)
	c, _ := forwarderSpec(cfg, svc2, "berth:1", bindings2)
	if c.Labels["berth.config-hash"] == a.Labels["berth.config-hash"] {
		t.Error("other ports, same hash: the forwarder would not be recreated")
	}
}
