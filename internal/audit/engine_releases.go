package audit

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The engine's release and kernel tables, and the checks that read them.

// engineVersion is a Docker Engine version: "20.10.24+dfsg1" (Debian),
// "24.0.7-0ubuntu2~22.04.1" (Ubuntu) and "29.1.2" all read as numbers.
type engineVersion struct {
	major, minor int
	text         string // as the engine wrote the numbers: "19.03.15"
}

var engineVersionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.\d+)?`)

func parseEngineVersion(s string) (engineVersion, bool) {
	m := engineVersionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return engineVersion{}, false
	}
	v := engineVersion{text: strings.TrimPrefix(m[0], "v")}
	v.major, _ = strconv.Atoi(m[1])
	v.minor, _ = strconv.Atoi(m[2])
	return v, true
}

func (v engineVersion) String() string { return v.text }

// engineTableDate is the day engineReleases was written: a "maintained" in
// it means maintained on that day.
const engineTableDate = "2026-12-01"

// engineRelease is one Docker Engine release branch and the day it stopped
// being maintained ("" while it is, with no announced end).
type engineRelease struct {
	major, minor int // minor -1: every minor of the major (one branch, "docker-29.x")
	name         string
	eol          string
}

// engineReleases, newest first, as of engineTableDate. Sources: the branch
// table in moby/moby project/BRANCHES-AND-TAGS.md and the pull requests
// that changed it, and endoflife.date's docker-engine page for the dates
// of branches that ended before that table had dates:
//
//	29     maintained (docker-29.x)                 BRANCHES-AND-TAGS.md
//	28     2026-05-13  marked unmaintained          moby/moby#52625
//	27     2025-05-03  marked unmaintained          moby/moby#49910 (merge date, endoflife.date)
//	26.1   2025-02-17                               moby commit 2fc90096, endoflife.date
//	26.0   2024-06-08  ended in favour of 26.1      endoflife.date (milestone closed)
//	25.0   2026-12-04  expected end of maintenance  BRANCHES-AND-TAGS.md, moby/moby#51660 (Mirantis MCR 25.0)
//	24.0   2024-06-08                               endoflife.date (milestone closed)
//	23.0   2025-05-19  Mirantis MCR 23.0 end        moby/moby#51018
//	20.10  2023-12-10                               endoflife.date
//	19.03  2021-01-08                               endoflife.date
var engineReleases = []engineRelease{
	{29, -1, "29", ""},
	{28, -1, "28", "2026-05-13"},
	{27, -1, "27", "2025-05-03"},
	{26, 1, "26.1", "2025-02-17"},
	{26, 0, "26.0", "2024-06-08"},
	{25, 0, "25.0", "2026-12-04"},
	{24, 0, "24.0", "2024-06-08"},
	{23, 0, "23.0", "2025-05-19"},
	{20, 10, "20.10", "2023-12-10"},
	{19, 3, "19.03", "2021-01-08"},
}

// engineEOLSoon is how far ahead an end of life turns a pass into a warning.
const engineEOLSoon = 90 * 24 * time.Hour

func engineCheckVersion(c Check, f EngineFacts, in *engineInfo) []Result {
	if in.ServerVersion == "" {
		return engineNotReported(c, f, "ServerVersion")
	}
	v, ok := parseEngineVersion(in.ServerVersion)
	table := "table of " + engineTableDate
	switch {
	case !ok:
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("ServerVersion %q is not a version berth can read", in.ServerVersion))}
	case v.major >= 2 && v.major <= 16:
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("ServerVersion %q is not a Docker Engine version: Podman and other engines serving the Docker API number their own releases", in.ServerVersion))}
	}
	newest, oldest := engineReleases[0], engineReleases[len(engineReleases)-1]
	if v.major > newest.major {
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("Docker %s is newer than berth's release table (%s): not judged; a newer berth knows it", v, table))}
	}
	if v.major < oldest.major || v.major == oldest.major && v.minor < oldest.minor {
		return []Result{c.Result(f.Host, Fail, fmt.Sprintf("Docker %s is older than %s, which reached end of life on %s (%s)", v, oldest.name, oldest.eol, table))}
	}
	i := slices.IndexFunc(engineReleases, func(r engineRelease) bool {
		return r.major == v.major && (r.minor < 0 || r.minor == v.minor)
	})
	if i < 0 {
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("Docker %s is not a release in berth's table (%s): not judged", v, table))}
	}
	rel := engineReleases[i]
	if rel.eol == "" {
		written, _ := time.Parse(time.DateOnly, engineTableDate)
		if f.Now.Sub(written) > 365*24*time.Hour {
			return []Result{c.Result(f.Host, Info, fmt.Sprintf("Docker %s was maintained on %s, and the table is over a year old: a newer berth can judge it", v, engineTableDate))}
		}
		return []Result{c.Result(f.Host, Pass, fmt.Sprintf("Docker %s is maintained (%s)", v, table))}
	}
	eol, _ := time.Parse(time.DateOnly, rel.eol)
	switch left := eol.Sub(f.Now); {
	case left <= 0:
		return []Result{c.Result(f.Host, Fail, fmt.Sprintf("Docker %s reached end of life on %s (%s)", v, rel.eol, table))}
	case left <= engineEOLSoon:
		days := int((left + 24*time.Hour - 1) / (24 * time.Hour))
		in := fmt.Sprintf("%d days", days)
		if days == 1 {
			in = "1 day"
		}
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("Docker %s reaches end of life on %s, in %s (%s)", v, rel.eol, in, table))}
	}
	return []Result{c.Result(f.Host, Pass, fmt.Sprintf("Docker %s is maintained until %s (%s)", v, rel.eol, table))}
}

// engineKernelVersion is a Linux release as the engine reports it.
type engineKernelVersion struct {
	a, b, c int
	// exact: the release shows its upstream patch level. Debian's
	// "5.10.0-28-amd64" and Ubuntu's "5.15.0-91-generic" do not (".0" and
	// a package suffix): their real patch level, and their backports,
	// are only in the distribution's changelog.
	exact bool
}

var engineKernelRE = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(.*)$`)

func parseEngineKernel(s string) (engineKernelVersion, bool) {
	m := engineKernelRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return engineKernelVersion{}, false
	}
	var k engineKernelVersion
	k.a, _ = strconv.Atoi(m[1])
	k.b, _ = strconv.Atoi(m[2])
	k.c, _ = strconv.Atoi(m[3])
	k.exact = !(k.c == 0 && m[4] != "")
	return k, true
}

func (k engineKernelVersion) less(a, b, c int) bool {
	if k.a != a {
		return k.a < a
	}
	if k.b != b {
		return k.b < b
	}
	return k.c < c
}

// engineKernelRange is [from, to) on one kernel line.
type engineKernelRange struct{ from, to [3]int }

type engineKernelBug struct {
	cve, name string
	ranges    []engineKernelRange
}

// engineBadKernels are kernel bugs that let a process in a container write
// to files it may only read, and so escape, with the upstream releases
// that fixed them. Kept small, each range confirmed:
//
//	CVE-2016-5195 "Dirty COW": before 4.8.3, fixed in the 4.4.26, 4.7.9 and
//	  4.8.3 stable releases (NVD: "2.x through 4.x before 4.8.3"). The 3.x
//	  lines are warned about as 3.x already.
//	CVE-2022-0847 "Dirty Pipe": introduced in 5.8, fixed in 5.10.102,
//	  5.15.25 and 5.16.11; the lines between ended unfixed.
var engineBadKernels = []engineKernelBug{
	{"CVE-2016-5195", "Dirty COW", []engineKernelRange{
		{[3]int{4, 0, 0}, [3]int{4, 4, 26}},
		{[3]int{4, 5, 0}, [3]int{4, 7, 9}},
		{[3]int{4, 8, 0}, [3]int{4, 8, 3}},
	}},
	{"CVE-2022-0847", "Dirty Pipe", []engineKernelRange{
		{[3]int{5, 8, 0}, [3]int{5, 10, 102}},
		{[3]int{5, 11, 0}, [3]int{5, 15, 25}},
		{[3]int{5, 16, 0}, [3]int{5, 16, 11}},
	}},
}

func engineCheckKernel(c Check, f EngineFacts, in *engineInfo) []Result {
	if in.KernelVersion == "" {
		return engineNotReported(c, f, "KernelVersion")
	}
	if in.OSType != "" && in.OSType != "linux" {
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("OSType %q: not a Linux engine (KernelVersion %q)", in.OSType, in.KernelVersion))}
	}
	k, ok := parseEngineKernel(in.KernelVersion)
	if !ok {
		return []Result{c.Result(f.Host, Info, fmt.Sprintf("KernelVersion %q is not a Linux version berth can read", in.KernelVersion))}
	}
	kv := in.KernelVersion
	switch {
	case k.less(3, 10, 0):
		return []Result{c.Result(f.Host, Fail, fmt.Sprintf("Linux %s is older than 3.10, the oldest the engine starts on", kv))}
	case k.a == 3:
		return []Result{c.Result(f.Host, Warn, fmt.Sprintf("Linux %s: every 3.x line is past upstream end of life; only a distribution that still patches it keeps it safe: check your distribution's advisory", kv))}
	}
	for _, bug := range engineBadKernels {
		for _, r := range bug.ranges {
			if k.less(r.from[0], r.from[1], r.from[2]) || !k.less(r.to[0], r.to[1], r.to[2]) {
				continue
			}
			fixed := fmt.Sprintf("%d.%d.%d", r.to[0], r.to[1], r.to[2])
			if !k.exact {
				return []Result{c.Result(f.Host, Info, fmt.Sprintf("Linux %s is a distribution kernel that does not show its upstream patch level; its line had %s (%s) until %s: check your distribution's advisory", kv, bug.cve, bug.name, fixed))}
			}
			return []Result{c.Result(f.Host, Warn, fmt.Sprintf("Linux %s is in the range of %s (%s), fixed upstream in %s; distribution kernels backport fixes: check your distribution's advisory", kv, bug.cve, bug.name, fixed))}
		}
	}
	return []Result{c.Result(f.Host, Pass, fmt.Sprintf("Linux %s: 3.10 or later and outside the known-bad ranges berth checks (CVE-2016-5195, CVE-2022-0847)", kv))}
}
