package policy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berthhq/berth/internal/engine"
)

// TestProjectMounts: a project's own directories are not system paths
// wherever the project lives (before, a project under /root was blocked
// as a critical sensitive mount for ./html:ro, and passed under /tmp);
// system paths, home directories and their dot-directories stay critical
// even inside a project; writable binds still warn.
func TestProjectMounts(t *testing.T) {
	for _, c := range []struct {
		name, project, source string
		readOnly              bool
		want                  []string
	}{
		{"./html:ro of a project under /root", "/root/shop", "/root/shop/html", true, nil},
		{"./html:ro of a project under /tmp", "/tmp/shop", "/tmp/shop/html", true, nil},
		{"./data writable of a project under /root", "/root/shop", "/root/shop/data", false, []string{"writable-bind-mount"}},
		{"./conf:ro of a project under /usr/local/src", "/usr/local/src/shop", "/usr/local/src/shop/conf", true, nil},
		{"./conf:ro of a project under /etc", "/etc/shop", "/etc/shop/conf", true, nil},
		{"the project directory itself", "/srv/shop", "/srv/shop", true, nil},
		{"the same path, not the project's", "/srv/other", "/usr/local/src/shop/conf", true, []string{"sensitive-mount"}},
		{"../ out of the project into /usr", "/usr/local/src/shop", "/usr/local/src", true, []string{"sensitive-mount"}},
		{"/root itself", "/root/shop", "/root", true, []string{"sensitive-mount"}},
		{"/root as the project", "/root", "/root", true, []string{"sensitive-mount"}},
		{"/root/.ssh", "/srv/shop", "/root/.ssh", true, []string{"sensitive-mount"}},
		{"a .ssh in the project", "/root/shop", "/root/shop/.ssh", true, []string{"sensitive-mount"}},
		{"a home's docker credentials", "/home/alice/shop", "/home/alice/.docker", true, []string{"sensitive-mount"}},
		{"a home directory", "/srv/shop", "/home/alice", true, []string{"sensitive-mount"}},
		{"a project in a home", "/home/alice/shop", "/home/alice/shop/html", true, nil},
		{"/ as the project: /etc is still /etc", "/", "/etc/nginx", true, []string{"sensitive-mount"}},
		{"/etc", "/srv/shop", "/etc", true, []string{"sensitive-mount"}},
		{"/proc", "/srv/shop", "/proc", true, []string{"sensitive-mount"}},
		{"/var/lib/docker", "/srv/shop", "/var/lib/docker/volumes", true, []string{"sensitive-mount"}},
		{"/run socket", "/srv/shop", "/run/containerd/containerd.sock", true, []string{"docker-socket"}},
		{"/var/run socket", "/srv/shop", "/var/run/dbus/system_bus_socket", true, []string{"sensitive-mount"}},
		{"the Docker socket in the project is still the socket", "/var/run", "/var/run/docker.sock", true, []string{"docker-socket"}},
		{"/lib64", "/srv/shop", "/lib64", true, []string{"sensitive-mount"}},
		{"/boot", "/srv/shop", "/boot/grub", true, []string{"sensitive-mount"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := hardened()
			es.Mounts = []engine.Mount{{Type: "bind", Source: c.source, Target: "/mnt/x", ReadOnly: c.readOnly}}
			s := FromEngine(es, "web")
			MarkProjectMounts(&s, c.project)
			var got []string
			for _, f := range Default().Evaluate(&s) {
				if !slices.Contains(got, f.Rule) {
					got = append(got, f.Rule)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("project %s, bind %s: findings %v, want %v", c.project, c.source, got, c.want)
			}
		})
	}
}

// TestProjectMountSymlink: a link in the project that leads to a system
// path is judged as where it leads.
func TestProjectMountSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "html"), 0o755); err != nil {
		t.Fatal(err)
	}
	es := hardened()
	es.Mounts = []engine.Mount{
		{Type: "bind", Source: filepath.Join(dir, "etc"), Target: "/e", ReadOnly: true},
		{Type: "bind", Source: filepath.Join(dir, "html"), Target: "/h", ReadOnly: true},
		{Type: "bind", Source: filepath.Join(dir, "not-yet"), Target: "/n", ReadOnly: true},
	}
	s := FromEngine(es, "web")
	MarkProjectMounts(&s, dir)
	if s.Mounts[0].InProject || !s.Mounts[1].InProject || !s.Mounts[2].InProject {
		t.Errorf("in project: link to /etc %v, html %v, a directory not created yet %v; want false, true, true",
			s.Mounts[0].InProject, s.Mounts[1].InProject, s.Mounts[2].InProject)
	}
}
