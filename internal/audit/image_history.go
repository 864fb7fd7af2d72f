package audit

// Secrets in an image's environment and history, and the build-step
// heuristics that read its history.

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthhq/berth/internal/policy"
)

// imageStep is one build step recovered from a history entry's CreatedBy:
// the classic builder writes "/bin/sh -c #(nop)  ENV K=V" for instructions
// that do not run, "|1 K=V /bin/sh -c cmd" for RUN (with the build
// arguments in scope); BuildKit writes "RUN /bin/sh -c cmd # buildkit",
// "ENV K=V".
type imageStep struct {
	n, of int    // 1 is the oldest step, of the last: the order docker history lists in reverse
	instr string // RUN, ENV, ADD, ...; "" for an imported layer
	body  string
}

var imageInstrs = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

func (v *imageView) steps() []imageStep {
	var out []imageStep
	for i := len(v.history) - 1; i >= 0; i-- {
		s := strings.TrimSpace(v.history[i].CreatedBy)
		s = strings.TrimSpace(strings.TrimSuffix(s, "# buildkit"))
		st := imageStep{n: len(v.history) - i, of: len(v.history)}
		if _, rest, ok := strings.Cut(s, "#(nop)"); ok {
			s = strings.TrimSpace(rest)
			st.instr, st.body, _ = strings.Cut(s, " ")
		} else if first, rest, _ := strings.Cut(s, " "); slices.Contains(imageInstrs, first) {
			st.instr, st.body = first, rest
		} else if s != "" {
			st.instr, st.body = "RUN", s // a classic RUN, or a docker commit's command
		}
		st.body = strings.TrimSpace(st.body)
		out = append(out, st)
	}
	return out
}

func (st imageStep) String() string { return fmt.Sprintf("step %d/%d (%s)", st.n, st.of, st.instr) }

var (
	imageBuildArgs  = regexp.MustCompile(`^\|(\d+) `)
	imageAssign     = regexp.MustCompile(`(?:^|[\s;|(])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|)]*)`)
	imageSecretFlag = regexp.MustCompile(`(?:^|\s)--(password|passwd|token|api-key|apikey|access-key|secret-key|client-secret|auth-token)(?:=|\s+)([^\s;&|]+)`)
	imageLoginP     = regexp.MustCompile(`\blogin\b[^;&|]*\s-p\s*([^\s;&|]+)`)
	imageMysqlP     = regexp.MustCompile(`\bmysql(?:dump|admin)?\b[^;&|]*\s-p([^\s;&|]+)`)
	imageURLCreds   = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@`)
	imageURLQuery   = regexp.MustCompile(`[?&]([A-Za-z0-9_-]+)=([^&\s#]+)`)
	imageVarRef     = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	imageRedirect   = regexp.MustCompile(`>>?\s*([^\s;&|]+)`)
)

// imageLiteral is a value written out, not a reference to one.
func imageLiteral(v string) bool {
	v = strings.Trim(v, `"'`)
	return v != "" && !strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "-")
}

func judgeImageSecretHistory(c Check, v *imageView, _ time.Time) (Status, string) {
	final := map[string]string{}
	if v.inspect != nil {
		for _, kv := range v.inspect.Config.Env {
			k, val, _ := strings.Cut(kv, "=")
			final[k] = val
		}
	}
	steps := v.steps()
	var found []string
	for _, st := range steps {
		var what []string
		note := func(s string) {
			if !slices.Contains(what, s) {
				what = append(what, s)
			}
		}
		body := st.body
		switch st.instr {
		case "ENV", "ARG":
			for _, m := range imageAssign.FindAllStringSubmatch(body, -1) {
				k, val := m[1], strings.Trim(m[2], `"'`)
				if fv, ok := final[k]; ok && fv == val && st.instr == "ENV" {
					continue // still in the environment: image-secret-env reports it
				}
				if policy.LooksSecret(k, val) {
					note("sets " + k)
				}
			}
		case "RUN":
			if m := imageBuildArgs.FindStringSubmatch(body); m != nil {
				n, _ := strconv.Atoi(m[1])
				fields := strings.Fields(body[len(m[0]):])
				i := 0
				for ; i < len(fields) && n > 0 && strings.Contains(fields[i], "="); i, n = i+1, n-1 {
					if k, val, _ := strings.Cut(fields[i], "="); policy.LooksSecret(k, val) {
						note("build argument " + k)
					}
				}
				body = strings.Join(fields[i:], " ")
			}
			for _, m := range imageAssign.FindAllStringSubmatch(body, -1) {
				if policy.SecretName(m[1]) && imageLiteral(m[2]) {
					note("sets " + m[1])
				}
			}
			for _, m := range imageSecretFlag.FindAllStringSubmatch(body, -1) {
				if imageLiteral(m[2]) {
					note("--" + m[1] + " on the command line")
				}
			}
			if m := imageLoginP.FindStringSubmatch(body); m != nil && imageLiteral(m[1]) {
				note("a login's -p password")
			}
			if m := imageMysqlP.FindStringSubmatch(body); m != nil && imageLiteral(m[1]) {
				note("a MySQL -p password")
			}
			for _, k := range imageWrittenSecrets(body) {
				note("writes $" + k + " to a file")
			}
		}
		for _, m := range imageURLCreds.FindAllStringSubmatch(body, -1) {
			if imageLiteral(m[1]) {
				note("a password in a URL")
			}
		}
		for _, m := range imageURLQuery.FindAllStringSubmatch(body, -1) {
			if policy.SecretName(m[1]) && imageLiteral(m[2]) {
				note("a URL's " + m[1] + "= parameter")
			}
		}
		for _, w := range what {
			found = append(found, st.String()+": "+w)
		}
	}
	if len(found) == 0 {
		return Pass, imageCount(len(steps), "build step") + ", none shows a secret"
	}
	return imageFinding(c), imageStepList(found)
}

// imageWrittenSecrets are the secret-named variables a step echoes into a
// file, which keeps them in the layer even when they came from a secret
// mount. A mere reference ($TOKEN in a curl header) is how secret mounts
// are meant to be used, and is not reported.
func imageWrittenSecrets(body string) []string {
	if !strings.Contains(body, "echo") && !strings.Contains(body, "printf") {
		return nil
	}
	var out []string
	for _, m := range imageVarRef.FindAllStringSubmatchIndex(body, -1) {
		k := body[m[2]:m[3]]
		if !policy.SecretName(k) || slices.Contains(out, k) {
			continue
		}
		rest := body[m[1]:]
		if end := strings.IndexAny(rest, ";&|"); end >= 0 {
			rest = rest[:end]
		}
		for _, r := range imageRedirect.FindAllStringSubmatch(rest, -1) {
			if r[1] != "/dev/null" && !strings.HasPrefix(r[1], "&") {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

var imageIndexUpdate = regexp.MustCompile(`\b(?:(?:apt-get|apt|apk)(?:\s+-\S+)*\s+update|(?:yum|dnf|microdnf)(?:\s+-\S+)*\s+makecache|zypper(?:\s+-\S+)*\s+(?:refresh|ref))\b`)

var imageInstall = regexp.MustCompile(`\b(?:install|add|upgrade|dist-upgrade|full-upgrade)\b`)

func judgeImageUpdateAlone(c Check, v *imageView, _ time.Time) (Status, string) {
	steps := v.steps()
	var found []string
	for _, st := range steps {
		if st.instr != "RUN" {
			continue
		}
		if m := imageIndexUpdate.FindString(st.body); m != "" && !imageInstall.MatchString(st.body) {
			found = append(found, st.String()+": "+strings.Join(strings.Fields(m), " ")+" alone")
		}
	}
	if len(found) == 0 {
		return Pass, imageCount(len(steps), "build step") + ", no package index update alone"
	}
	return imageFinding(c), imageStepList(found)
}

var imageHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

func judgeImageRemoteAdd(c Check, v *imageView, _ time.Time) (Status, string) {
	steps := v.steps()
	var found []string
	for _, st := range steps {
		if st.instr != "ADD" {
			continue
		}
		var srcs []string
		verified := false
		for _, f := range strings.Fields(st.body) {
			if strings.HasPrefix(f, "--checksum=") {
				verified = true
			}
			if !strings.HasPrefix(f, "--") {
				srcs = append(srcs, f)
			}
		}
		// The classic builder records a download as its bare checksum
		// ("ADD 1db9...95 in /dst"); local sources are file:, dir: or
		// multi:.
		if len(srcs) == 3 && imageHash.MatchString(srcs[0]) && srcs[1] == "in" {
			found = append(found, st.String()+": a download to "+srcs[2]+" (the builder kept only its checksum)")
			continue
		}
		if verified || len(srcs) < 2 {
			continue
		}
		for _, s := range srcs[:len(srcs)-1] {
			if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				// Scheme and host only: a path or query may hold a token.
				found = append(found, st.String()+": "+u.Scheme+"://"+u.Host+"/...")
			}
		}
	}
	if len(found) == 0 {
		return Pass, imageCount(len(steps), "build step") + ", no ADD of a URL"
	}
	return imageFinding(c), imageStepList(found)
}
