package audit

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// How dockerd is started: its systemd unit (drop-ins and environment
// applied), the running process, and the environment files of old packages.
// Settings are daemon.json's keys or these flags, never both.

// dockerdFlag is one command-line flag of dockerd, long name without dashes.
type dockerdFlag struct {
	name, value, source string
}

var dockerdShort = map[string]string{"H": "host", "D": "debug", "l": "log-level", "G": "group", "b": "bridge", "p": "pidfile", "g": "graph", "s": "storage-driver"}

var dockerdBool = map[string]bool{"debug": true, "experimental": true, "icc": true, "ip-forward": true, "ip-masq": true, "iptables": true,
	"ip6tables": true, "ipv6": true, "live-restore": true, "no-new-privileges": true, "raw-logs": true, "selinux-enabled": true,
	"tls": true, "tlsverify": true, "userland-proxy": true, "init": true, "rootless": true, "validate": true}

// parseDockerdFlags reads dockerd's arguments. dockerd takes no positional
// arguments, so a word after a flag that is not boolean is its value.
func parseDockerdFlags(args []string, source string) []dockerdFlag {
	var out []dockerdFlag
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' || a == "--" {
			continue
		}
		var name, val string
		hasVal := false
		if strings.HasPrefix(a, "--") {
			name = a[2:]
		} else {
			name = a[1:2]
			if len(a) > 2 {
				val, hasVal = strings.TrimPrefix(a[2:], "="), true
			}
			if long, ok := dockerdShort[name]; ok {
				name = long
			}
		}
		if k, v, ok := strings.Cut(name, "="); ok {
			name, val, hasVal = k, v, true
		}
		if !hasVal {
			switch {
			case dockerdBool[name]:
				val = "true"
			case i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
				i++
				val = args[i]
			}
		}
		out = append(out, dockerdFlag{name: name, value: val, source: source})
	}
	return out
}

// loadDockerdFlags finds how dockerd is started: docker.service's
// ExecStart (drop-ins and environment applied) and, where the host runs
// one, the running dockerd's command line; also the options of the
// environment files old packages use.
func (e *hostEnv) loadDockerdFlags() {
	e.units = map[string]hostFile{}
	for _, name := range []string{"docker.service", "docker.socket"} {
		for _, d := range hostUnitDirs {
			if hf := e.stat(d + "/" + name); !errors.Is(hf.err, fs.ErrNotExist) {
				e.units[name] = hf
				break
			}
		}
	}
	if hf, ok := e.units["docker.service"]; ok && hf.err == nil && hf.fi.Mode().IsRegular() {
		e.unitFlags = e.unitExecFlags(hf)
	}
	e.procFlags = e.runningDockerd()
	for _, f := range []string{"/etc/default/docker", "/etc/sysconfig/docker"} {
		data, err := e.readFile(f)
		if err != nil {
			continue
		}
		env := parseHostEnvFile(data)
		for _, k := range []string{"DOCKER_OPTS", "OPTIONS", "INSECURE_REGISTRY"} {
			if v := env[k]; v != "" {
				e.envOpts = append(e.envOpts, parseDockerdFlags(hostWords(v), f+" "+k)...)
			}
		}
	}
}

// flags are dockerd's flags in force: the unit's when there is one, else
// the running process's.
func (e *hostEnv) flags() []dockerdFlag {
	if e.unitFlags != nil {
		return e.unitFlags
	}
	return e.procFlags
}

// unitExecFlags reads ExecStart from the unit and its drop-ins, with
// Environment= and EnvironmentFile= applied to $VAR and ${VAR}.
func (e *hostEnv) unitExecFlags(unit hostFile) []dockerdFlag {
	files := []string{unit.path}
	seen := map[string]bool{}
	var dropins []string
	for _, d := range hostUnitDirs {
		ents, err := os.ReadDir(e.join(d + "/docker.service.d"))
		if err != nil {
			continue
		}
		for _, de := range ents {
			if strings.HasSuffix(de.Name(), ".conf") && !seen[de.Name()] {
				seen[de.Name()] = true
				dropins = append(dropins, d+"/docker.service.d/"+de.Name())
			}
		}
	}
	// Drop-ins apply in the order of their names, whatever their directory.
	slices.SortStableFunc(dropins, func(a, b string) int { return strings.Compare(path.Base(a), path.Base(b)) })
	files = append(files, dropins...)
	var exec string
	env := map[string]string{}
	for _, f := range files {
		data, err := e.readFile(f)
		if err != nil {
			continue
		}
		for _, kv := range unitServiceDirectives(data) {
			switch kv[0] {
			case "ExecStart":
				exec = kv[1] // empty resets; the last one is what runs
			case "Environment":
				for _, w := range hostWords(kv[1]) {
					if k, v, ok := strings.Cut(w, "="); ok {
						env[k] = v
					}
				}
			case "EnvironmentFile":
				p := strings.TrimPrefix(kv[1], "-")
				if data, err := e.readFile(p); err == nil {
					for k, v := range parseHostEnvFile(data) {
						env[k] = v
					}
				}
			}
		}
	}
	words := hostWords(exec)
	if len(words) == 0 {
		return []dockerdFlag{} // not nil: a unit was read
	}
	var args []string
	for _, w := range words[1:] {
		if name, ok := strings.CutPrefix(w, "$"); ok && !strings.HasPrefix(name, "{") {
			args = append(args, hostWords(env[name])...)
			continue
		}
		args = append(args, os.Expand(w, func(k string) string { return env[k] }))
	}
	return parseDockerdFlags(args, unit.path+" ExecStart")
}

// unitServiceDirectives are the [Service] key=value pairs of a unit file, lines
// continued with a backslash joined.
func unitServiceDirectives(data []byte) [][2]string {
	var out [][2]string
	section := ""
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + " " + strings.TrimSpace(lines[i])
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		case section == "Service":
			if k, v, ok := strings.Cut(line, "="); ok {
				v = strings.TrimSpace(v)
				if k = strings.TrimSpace(k); k == "ExecStart" {
					v = strings.TrimLeft(v, "-@:+!|")
				}
				out = append(out, [2]string{k, v})
			}
		}
	}
	return out
}

// parseHostEnvFile reads KEY=value lines, as systemd's EnvironmentFile= and a
// shell sourcing /etc/default/docker both do.
func parseHostEnvFile(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if w := hostWords(v); len(w) == 1 {
			v = w[0]
		} else if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// hostWords splits a command line as a shell would for plain words,
// single and double quotes.
func hostWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				c = s[i]
			}
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// runningDockerd is the command line of the dockerd the host runs, read
// from /proc; nil when there is none (or no /proc).
func (e *hostEnv) runningDockerd() []dockerdFlag {
	ents, err := os.ReadDir(e.join("/proc"))
	if err != nil {
		return nil
	}
	for _, de := range ents {
		pid := de.Name()
		if pid == "" || strings.Trim(pid, "0123456789") != "" {
			continue
		}
		comm, err := os.ReadFile(e.join("/proc/" + pid + "/comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		cmd, err := os.ReadFile(e.join("/proc/" + pid + "/cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		if len(args) == 0 {
			continue
		}
		return append([]dockerdFlag{}, parseDockerdFlags(args[1:], "dockerd's command line (pid "+pid+")")...)
	}
	return nil
}

// DockerdFlags are the settings dockerd's command line makes on a host.
type DockerdFlags struct {
	// Keys are the daemon.json keys the flags already set, each with where.
	Keys map[string]string
	// LogOpts are the names of the --log-opt options.
	LogOpts []string
}

// ReadDockerdFlags reads the flags in force on the host below root
// (docker.service's ExecStart, else the running dockerd). dockerd refuses
// to start when a setting is given both as a flag and in daemon.json, so
// `berth setup` leaves these keys alone.
func ReadDockerdFlags(root string) DockerdFlags {
	e := newHostEnv(HostFacts{Local: true, Root: root})
	out := DockerdFlags{Keys: map[string]string{}}
	for _, f := range e.flags() {
		key := f.name
		if k, ok := dockerdFlagKey[key]; ok {
			if k == "" {
				continue // a flag with no daemon.json key
			}
			key = k
		}
		out.Keys[key] = f.source
		if f.name == "log-opt" {
			name, _, _ := strings.Cut(f.value, "=")
			out.LogOpts = append(out.LogOpts, name)
		}
	}
	return out
}
