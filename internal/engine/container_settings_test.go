package engine

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// Binds the engine may create go through Binds (the only way on API 1.41),
// with their options in `docker run -v` order; the rest are mounts.
func TestApplyMounts(t *testing.T) {
	var host container.HostConfig
	applyMounts(ContainerSpec{Mounts: []Mount{
		{Type: "bind", Source: "/srv/a", Target: "/a", ReadOnly: true, Propagation: "rslave", SELinux: "z"},
		{Type: "bind", Source: "/srv/b", Target: "/b"},
		{Type: "bind", Source: "/srv/c", Target: "/c", NoCreate: true, Propagation: "rshared"},
		{Type: "volume", Source: "shop_data", Target: "/data", NoCopy: true, Subpath: "x"},
		{Type: "volume", Source: "shop_logs", Target: "/logs", ReadOnly: true},
	}}, &host)
	if want := []string{"/srv/a:/a:ro,rslave,z", "/srv/b:/b"}; !slices.Equal(host.Binds, want) {
		t.Errorf("binds %v; want %v", host.Binds, want)
	}
	if len(host.Mounts) != 3 {
		t.Fatalf("mounts %+v", host.Mounts)
	}
	if m := host.Mounts[0]; m.Target != "/c" || m.BindOptions == nil || m.BindOptions.Propagation != "rshared" {
		t.Errorf("bind without create_host_path: %+v", m)
	}
	if m := host.Mounts[1]; m.VolumeOptions == nil || !m.VolumeOptions.NoCopy || m.VolumeOptions.Subpath != "x" {
		t.Errorf("volume options: %+v", m)
	}
	if m := host.Mounts[2]; m.VolumeOptions != nil || !m.ReadOnly {
		t.Errorf("plain read-only volume: %+v", m)
	}
}

func TestDiscarded(t *testing.T) {
	got := discarded([]string{
		"Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
		"Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.",
	})
	if len(got) != 1 || got[0] != "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded." {
		t.Errorf("discarded = %q", got)
	}
}

func TestNeedsAPI(t *testing.T) {
	c := &Client{APIVersion: "1.41"}
	spec := ContainerSpec{Name: "shop-db", Endpoints: map[string]NetworkEndpoint{"back": {MacAddress: "02:42:ac:11:00:02"}}}
	if err := c.needsAPI(spec); err == nil {
		t.Errorf("mac_address on API 1.41 accepted; the engine would ignore it")
	}
	c.APIVersion = "1.44"
	if err := c.needsAPI(spec); err != nil {
		t.Errorf("mac_address on API 1.44: %v", err)
	}
}
