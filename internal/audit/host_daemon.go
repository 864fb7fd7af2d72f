package audit

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// The daemon's settings the engine API does not show, judged as configured:
// daemon.json, then dockerd's flags.

func (e *hostEnv) lastFlag(name string) (dockerdFlag, bool) {
	fl := e.flags()
	for i := len(fl) - 1; i >= 0; i-- {
		if fl[i].name == name {
			return fl[i], true
		}
	}
	return dockerdFlag{}, false
}

func (e *hostEnv) boolSetting(key, flag string) (val bool, src string, set bool) {
	if f, ok := e.lastFlag(flag); ok {
		return f.value == "" || f.value == "true" || f.value == "1", f.source, true
	}
	if b, ok := e.cfg[key].(bool); ok {
		return b, e.daemonJSON, true
	}
	return false, "", false
}

func (e *hostEnv) stringSetting(key, flag string) (val, src string, set bool) {
	if f, ok := e.lastFlag(flag); ok {
		return f.value, f.source, true
	}
	if s, ok := e.cfg[key].(string); ok {
		return s, e.daemonJSON, true
	}
	return "", "", false
}

// listSetting gathers a list from daemon.json and the flags, each value
// with where it was set.
func (e *hostEnv) listSetting(key, flag string, extra []dockerdFlag) [][2]string {
	var out [][2]string
	if l, ok := e.cfg[key].([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, [2]string{s, e.daemonJSON + " " + key})
			}
		}
	}
	for _, f := range slices.Concat(e.flags(), extra) {
		if f.name == flag {
			out = append(out, [2]string{f.value, f.source})
		}
	}
	return out
}

func (e *hostEnv) tlsOn() bool {
	v, _, _ := e.boolSetting("tlsverify", "tlsverify")
	t, _, _ := e.boolSetting("tls", "tls")
	return v || t
}

// settingsProblem is why the settings cannot be judged: dockerd would not
// start with this daemon.json, so no setting is in force.
func (e *hostEnv) settingsProblem() string {
	if e.cfgErr != nil {
		return "daemon.json cannot be read (see host-daemon-json): " + e.cfgErr.Error()
	}
	// A value of the wrong type stops dockerd too; and a check must not
	// pass on a value it could not read.
	for _, k := range hostSortedKeys(e.cfg) {
		if p := daemonTypeProblem(k, e.cfg[k]); p != "" {
			return "daemon.json has a value dockerd refuses (see host-daemon-json): " + p
		}
	}
	return ""
}

// dockerdFlagKey is the daemon.json key of a flag, where dockerd names it
// otherwise; "" for a flag that cannot conflict.
var dockerdFlagKey = map[string]string{"host": "hosts", "label": "labels", "insecure-registry": "insecure-registries",
	"registry-mirror": "registry-mirrors", "log-opt": "log-opts", "storage-opt": "storage-opts", "exec-opt": "exec-opts",
	"dns-opt": "dns-opts", "default-ulimit": "default-ulimits", "authorization-plugin": "authorization-plugins",
	"default-address-pool": "default-address-pools", "node-generic-resource": "node-generic-resources",
	"default-network-opt": "default-network-opts", "cdi-spec-dir": "cdi-spec-dirs",
	"add-runtime": "", "config-file": "", "validate": ""}

func (e *hostEnv) checkDaemonJSON(c Check) Result {
	if e.cfgErr != nil {
		var de *DaemonConfigError
		if errors.As(e.cfgErr, &de) {
			return e.result(c, Fail, de.Error()+"; dockerd would refuse to start")
		}
		hf := e.stat(e.daemonJSON)
		if hf.err == nil && hf.fi.IsDir() {
			return e.result(c, Fail, e.daemonJSON+" is a directory; dockerd would refuse to start")
		}
		return e.skip(c, e.cfgErr.Error())
	}
	if e.cfg == nil {
		return e.result(c, Info, e.daemonJSON+" is not present: engine defaults in use")
	}
	lines := daemonKeyLines(e.cfgData)
	var problems []string
	for _, k := range hostSortedKeys(e.cfg) {
		if p := daemonTypeProblem(k, e.cfg[k]); p != "" {
			problems = append(problems, fmt.Sprintf("line %d: %s", lines[k], p))
		}
	}
	// A setting both in daemon.json and on dockerd's command line stops it
	// at start: the classic is "hosts" with the unit's -H fd://.
	for _, f := range e.unitFlags {
		k, named := dockerdFlagKey[f.name]
		if !named {
			k = f.name
		}
		if _, both := e.cfg[k]; k != "" && both {
			problems = append(problems, fmt.Sprintf("line %d: %q is also set by --%s in %s", lines[k], k, f.name, f.source))
		}
	}
	if len(problems) > 0 {
		return e.result(c, Fail, e.daemonJSON+": "+strings.Join(hostDedupe(problems), "; ")+"; dockerd would refuse to start")
	}
	return e.result(c, Pass, fmt.Sprintf("%s: valid, %d settings", e.daemonJSON, len(e.cfg)))
}

func hostDedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func (e *hostEnv) checkLogRotation(c Check) Result {
	if p := e.settingsProblem(); p != "" {
		return e.skip(c, p)
	}
	driver, src, set := e.stringSetting("log-driver", "log-driver")
	if !set || driver == "" {
		driver, src = "json-file", "engine default"
	}
	opts := map[string][2]string{}
	if m, ok := e.cfg["log-opts"].(map[string]any); ok {
		for k, v := range m {
			if s, ok := v.(string); ok {
				opts[k] = [2]string{s, e.daemonJSON}
			}
		}
	}
	for _, f := range e.flags() {
		if f.name == "log-opt" {
			if k, v, ok := strings.Cut(f.value, "="); ok {
				opts[k] = [2]string{v, f.source}
			}
		}
	}
	note := "; the default applies to new containers, existing ones keep theirs"
	switch driver {
	case "json-file":
		if ms := opts["max-size"][0]; ms != "" && ms != "-1" {
			ev := fmt.Sprintf("log-driver json-file (%s) with max-size %s", src, ms)
			if mf := opts["max-file"][0]; mf != "" {
				ev += ", max-file " + mf
			}
			return e.result(c, Pass, ev+note)
		}
		return e.result(c, Fail, fmt.Sprintf("log-driver json-file (%s) without log-opts max-size: container logs grow until the disk is full%s", src, note))
	case "local":
		return e.result(c, Pass, fmt.Sprintf("log-driver local (%s) rotates by default%s", src, note))
	}
	return e.result(c, Pass, fmt.Sprintf("log-driver %s (%s) keeps no unbounded files on this host%s", driver, src, note))
}

func (e *hostEnv) checkNoNewPrivileges(c Check) Result {
	if p := e.settingsProblem(); p != "" {
		return e.skip(c, p)
	}
	v, src, set := e.boolSetting("no-new-privileges", "no-new-privileges")
	switch {
	case v:
		return e.result(c, Pass, "no-new-privileges: true ("+src+")")
	case set:
		return e.result(c, Warn, "no-new-privileges: false ("+src+"): a setuid binary in a container can gain privileges")
	}
	return e.result(c, Warn, "no-new-privileges is not set (engine default false): a setuid binary in a container can gain privileges")
}

func (e *hostEnv) checkUserlandProxy(c Check) Result {
	if p := e.settingsProblem(); p != "" {
		return e.skip(c, p)
	}
	v, src, set := e.boolSetting("userland-proxy", "userland-proxy")
	switch {
	case set && !v:
		return e.result(c, Pass, "userland-proxy: false ("+src+")")
	case set:
		return e.result(c, Warn, "userland-proxy: true ("+src+"): a docker-proxy process per published port")
	}
	return e.result(c, Warn, "userland-proxy is not set (engine default true): a docker-proxy process per published port")
}

func (e *hostEnv) checkMetricsAddr(c Check) Result {
	if p := e.settingsProblem(); p != "" {
		return e.skip(c, p)
	}
	addr, src, set := e.stringSetting("metrics-addr", "metrics-addr")
	if !set || addr == "" {
		return e.result(c, Pass, "metrics-addr is not set: no metrics endpoint")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return e.result(c, Warn, fmt.Sprintf("metrics-addr %q (%s) is not host:port", addr, src))
	}
	if hostLoopback(host) {
		return e.result(c, Pass, fmt.Sprintf("metrics-addr %s (%s) is loopback only", addr, src))
	}
	return e.result(c, Fail, fmt.Sprintf("metrics-addr %s (%s) listens beyond loopback: the unauthenticated metrics endpoint is exposed", addr, src))
}

func hostLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dockerdTCPHost says whether a -H value is a TCP listener: tcp://, or an address
// without a scheme, which dockerd reads as tcp.
func dockerdTCPHost(h string) bool {
	scheme, _, ok := strings.Cut(h, "://")
	return ok && scheme == "tcp" || !ok && h != ""
}

func (e *hostEnv) checkTCPTLS(c Check) Result {
	if p := e.settingsProblem(); p != "" {
		return e.skip(c, p)
	}
	hosts := e.listSetting("hosts", "host", e.procOrEnv())
	verify, _, _ := e.boolSetting("tlsverify", "tlsverify")
	tls, _, _ := e.boolSetting("tls", "tls")
	for _, f := range e.envOpts {
		if f.name == "tlsverify" && f.value != "false" {
			verify = true
		}
	}
	var tcp []string
	seen := map[string]bool{}
	for _, h := range hosts {
		if dockerdTCPHost(h[0]) && !seen[h[0]] {
			seen[h[0]] = true
			tcp = append(tcp, fmt.Sprintf("%s (%s)", h[0], h[1]))
		}
	}
	switch {
	case len(tcp) == 0:
		return e.result(c, Pass, "no TCP listener: the engine is reached through its unix socket")
	case verify:
		return e.result(c, Pass, strings.Join(tcp, ", ")+" with tlsverify")
	case tls:
		return e.result(c, Fail, strings.Join(tcp, ", ")+" with tls but without tlsverify: any client is accepted, and whoever reaches the port is root on the host")
	}
	return e.result(c, Fail, strings.Join(tcp, ", ")+" without TLS: whoever reaches the port is root on the host")
}

// procOrEnv are the flags a listener may also come from: the running
// dockerd when the unit is what flags() reads, and the environment files.
func (e *hostEnv) procOrEnv() []dockerdFlag {
	var out []dockerdFlag
	if e.unitFlags != nil {
		out = append(out, e.procFlags...)
	}
	return append(out, e.envOpts...)
}

func (e *hostEnv) checkInsecureRegistries(c Check) Result {
	if p := e.settingsProblem(); p != "" {
		return e.skip(c, p)
	}
	var bad []string
	seen := map[string]bool{}
	for _, r := range e.listSetting("insecure-registries", "insecure-registry", e.procOrEnv()) {
		if seen[r[0]] || loopbackRegistry(r[0]) {
			continue
		}
		seen[r[0]] = true
		bad = append(bad, fmt.Sprintf("%s (%s)", r[0], r[1]))
	}
	if len(bad) == 0 {
		return e.result(c, Pass, "no insecure registry beyond loopback")
	}
	return e.result(c, Warn, "insecure (plain HTTP or unverified TLS): "+strings.Join(bad, ", "))
}

// loopbackRegistry: the engine trusts 127.0.0.0/8 without TLS by default;
// naming a loopback registry changes nothing.
func loopbackRegistry(r string) bool {
	host := r
	if h, _, err := net.SplitHostPort(r); err == nil {
		host = h
	}
	if _, n, err := net.ParseCIDR(r); err == nil {
		return n.IP.IsLoopback()
	}
	return hostLoopback(host)
}
