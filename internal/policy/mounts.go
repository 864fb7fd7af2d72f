package policy

import (
	"path"
	"slices"
	"strings"
)

// sensitivePaths must never be mounted from the host; sensitiveTrees not
// any path below them either (a bind of /etc/shadow is /etc's secrets),
// except the few files containers ordinarily read, read-only. Home
// directories (/root, /home/NAME) are sensitive themselves and in their
// dot-directories (.ssh, .docker, .aws, .kube: keys and credentials), not
// in a project kept below them.
var (
	sensitivePaths = []string{"/", "/var", "/var/lib", "/opt", "/srv", "/home", "/mnt", "/media", "/tmp"}
	sensitiveTrees = []string{"/etc", "/proc", "/sys", "/boot", "/dev", "/run", "/var/run", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
		"/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/var/log", "/var/spool/cron"}
	benignReadOnly = []string{"/etc/localtime", "/etc/timezone", "/etc/ssl/certs", "/etc/ca-certificates", "/etc/pki/ca-trust", "/usr/share/zoneinfo", "/usr/share/ca-certificates"}
)

// homeDir returns the home directory p is at or below ("/root",
// "/home/alice"), and what follows it.
func homeDir(p string) (home, rest string, ok bool) {
	switch {
	case p == "/root" || strings.HasPrefix(p, "/root/"):
		return "/root", strings.TrimPrefix(p, "/root"), true
	case strings.HasPrefix(p, "/home/"):
		user, rest, _ := strings.Cut(strings.TrimPrefix(p, "/home/"), "/")
		return "/home/" + user, "/" + rest, true
	}
	return "", "", false
}

// sensitiveMount says whether a bind of source exposes the host. A bind
// inside the compose project (inProject) is the project's own directory,
// not a system path, wherever the project lives (/root/shop, /usr/local/src
// /shop); a home directory itself, a dot-directory of a home and any .ssh
// stay sensitive even there.
func sensitiveMount(source string, readOnly, inProject bool) bool {
	p := path.Clean(source)
	if slices.Contains(sensitivePaths, p) {
		return true
	}
	if slices.Contains(strings.Split(p, "/"), ".ssh") {
		return true // someone's SSH keys and authorized_keys
	}
	if home, rest, ok := homeDir(p); ok {
		return p == home || strings.HasPrefix(strings.TrimPrefix(rest, "/"), ".")
	}
	if inProject {
		return false
	}
	for _, t := range sensitiveTrees {
		if p == t || strings.HasPrefix(p, t+"/") {
			if readOnly {
				for _, b := range benignReadOnly {
					if p == b || strings.HasPrefix(p, b+"/") {
						return false
					}
				}
			}
			return true
		}
	}
	return false
}

// ProjectDirAllowed says whether binds below dir may count as the
// project's own: not when the project is itself a system directory (a
// compose file in / or /etc would make every path its own).
func ProjectDirAllowed(dir string) bool {
	if !path.IsAbs(dir) {
		return false
	}
	dir = path.Clean(dir)
	if slices.Contains(sensitivePaths, dir) || slices.Contains(sensitiveTrees, dir) {
		return false
	}
	home, _, ok := homeDir(dir)
	return !ok || dir != home
}

func isDockerSocket(p string) bool {
	p = path.Clean(p)
	return strings.HasSuffix(p, "/docker.sock") || p == "/var/run/docker" || p == "/run/docker" || strings.HasSuffix(p, "/containerd.sock")
}
