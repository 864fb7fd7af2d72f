package build

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// Labels berth puts on every image it builds.
const (
	// LabelHash is the digest of the context and the build settings: an
	// image that carries the digest a deploy computes is not rebuilt.
	LabelHash = "berth.build-hash"
	// LabelRevision and LabelCreated are the OCI annotations for the
	// source revision and the build time.
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
)

// ImageName is the name a service's build is tagged with: compose's rule
// when image: is set (the build is that image), else <app>-<service>
// (compose says <project>-<service>; berth's project is the app).
func ImageName(app, service, image string) string {
	if image != "" {
		return image
	}
	return app + "-" + service
}

// Repository is a reference without its tag or digest.
func Repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// RevisionTag is the second tag of every build: the repository of the
// image's name with the revision as tag, so a release names the source
// it came from.
func RevisionTag(name, revision string) string {
	return Repository(name) + ":" + revision
}

// PlannedRef is what a deploy will run for a service it builds, for
// judging it before the build (policy check): its name tagged with the
// placeholder "revision", since the real one, a commit or a context hash,
// is known only when the build starts. Either way the tag is immutable.
func PlannedRef(app, service, image string) string {
	return RevisionTag(ImageName(app, service, image), "revision")
}

// Revision names the source of a build: the git commit (12 hex, with
// -dirty when the work tree has changes) of the repository holding dir,
// or, outside git, the first 12 hex of the context's digest.
func Revision(ctx context.Context, dir, contextHash string) string {
	if rev, ok := gitRevision(ctx, dir); ok {
		return rev
	}
	return contextHash[:12]
}

func gitRevision(ctx context.Context, dir string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--verify", "-q", "HEAD").Output()
	commit := strings.TrimSpace(string(out))
	if err != nil || len(commit) < 12 {
		return "", false // not a repository, no commit yet, or no git
	}
	rev := commit[:12]
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		rev += "-dirty"
	}
	return rev, true
}
