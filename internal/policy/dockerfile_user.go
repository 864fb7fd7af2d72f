package policy

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// A service built from a Dockerfile in the project has an image nobody
// needs an engine to read: the USER of the Dockerfile's final stage is the
// image's configured user. So policy check judges it instead of calling it
// unknown. Only what the file settles counts: a USER with a build
// variable, or a stage that inherits its user from a base image other
// than scratch, stays unknown.

// maxDockerfile bounds what is read of a Dockerfile for its USER.
const maxDockerfile = 1 << 20

// BuildUser returns the USER the image built by b is configured with, and
// whether the Dockerfile settles it ("" is root: FROM scratch and no USER).
func BuildUser(b *types.BuildConfig) (string, bool) {
	if b == nil {
		return "", false
	}
	text := b.DockerfileInline
	if text == "" {
		if b.Context == "" || strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@") {
			return "", false // a remote context: nothing local to read
		}
		name := b.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		if !filepath.IsAbs(name) {
			name = filepath.Join(b.Context, name)
		}
		f, err := os.Open(name)
		if err != nil {
			return "", false
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxDockerfile))
		if err != nil {
			return "", false
		}
		text = string(data)
	}
	return dockerfileUser(text, b.Target)
}

type stage struct {
	name, from string
	user       string
	userSet    bool
}

// dockerfileUser reads the final stage's user (or target's): its last
// USER, or the one it inherits from an earlier stage it is built FROM.
func dockerfileUser(text, target string) (string, bool) {
	var stages []*stage
	for _, line := range instructions(text) {
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "FROM":
			var args []string
			for _, f := range strings.Fields(rest) {
				if !strings.HasPrefix(f, "--") {
					args = append(args, f)
				}
			}
			if len(args) == 0 {
				return "", false
			}
			s := &stage{from: args[0]}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				s.name = args[2]
			}
			stages = append(stages, s)
		case "USER":
			if len(stages) == 0 {
				return "", false
			}
			stages[len(stages)-1].user, stages[len(stages)-1].userSet = strings.Trim(rest, `"'`), true
		}
	}
	if len(stages) == 0 {
		return "", false
	}
	final := stages[len(stages)-1]
	if target != "" {
		final = nil
		for _, s := range stages {
			if strings.EqualFold(s.name, target) {
				final = s
			}
		}
	}
	for depth := 0; final != nil && depth < len(stages); depth++ {
		if final.userSet {
			if strings.Contains(final.user, "$") {
				return "", false // set by a build argument
			}
			return final.user, true
		}
		if strings.EqualFold(final.from, "scratch") {
			return "", true
		}
		base := final
		final = nil
		for _, s := range stages {
			if s != base && s.name != "" && strings.EqualFold(s.name, base.from) {
				final = s
			}
		}
	}
	return "", false // inherited from a base image: read only with an engine
}

// instructions splits a Dockerfile into instructions: comments dropped,
// continuation lines joined.
func instructions(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") || t == "" && cur.Len() > 0 {
			continue
		}
		if strings.HasSuffix(t, `\`) {
			cur.WriteString(strings.TrimSuffix(t, `\`) + " ")
			continue
		}
		cur.WriteString(t)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}
