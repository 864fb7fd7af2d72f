package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkBuild refuses the build: keys berth's builds cannot honour, so
// validate says so before a deploy would drop them. berth builds through
// the Engine API with the context uploaded as the request body: BuildKit
// then runs without a client session, and what needs one (secrets, ssh,
// named contexts, exporters, entitlements) has no way in. See
// docs/architecture.md, "Builds".
func checkBuild(doc *composeDoc, name string, s types.ServiceConfig, e *errs) {
	b := s.Build
	if b == nil {
		return
	}
	if strings.Contains(s.Image, "@") {
		doc.errorf(e, name, []string{"image"}, "give image: a tag (name:tag), or remove build:",
			"a build cannot be tagged with a digest")
	}
	if isRemoteContext(b.Context) {
		at := []string{"build", "context"}
		if doc.lookup("services", name, "build", "context") == nil {
			at = at[:1] // the short form, build: URL
		}
		doc.errorf(e, name, at, "clone it and set context: to the local directory",
			"berth builds local contexts only, not %s", b.Context)
	}
	checkBuildFiles(doc, name, b, e)
	const session = "it needs a BuildKit client session, which berth's builds through the Engine API do not open"
	const elsewhere = "remove the key, or build the image elsewhere (`docker buildx build -t TAG`), set image: to TAG and deploy with `berth deploy --no-build`"
	refuse := func(set bool, key, reason string) {
		if set {
			doc.errorf(e, name, []string{"build", key}, elsewhere, "build.%s is not supported: %s", key, reason)
		}
	}
	refuse(len(b.Secrets) > 0, "secrets", session)
	refuse(len(b.SSH) > 0, "ssh", session)
	refuse(len(b.AdditionalContexts) > 0, "additional_contexts", session)
	refuse(len(b.CacheTo) > 0, "cache_to", "the Engine API's build has no cache exporter")
	refuse(len(b.Entitlements) > 0, "entitlements", session)
	refuse(b.Privileged, "privileged", "the Engine API's build cannot grant a build step privileges")
	refuse(b.Provenance != "", "provenance", "the Engine API's build writes no attestations")
	refuse(b.SBOM != "", "sbom", "the Engine API's build writes no attestations")
	refuse(len(b.NoCacheFilter) > 0, "no_cache_filter", "the Engine API's build has no per-stage cache switch (no_cache: true is honoured)")
	refuse(len(b.Platforms) > 0, "platforms", "berth builds for the platform of the engine it builds on")
	refuse(len(b.Ulimits) > 0, "ulimits", "berth does not pass ulimits to the builder")
}

// isRemoteContext says whether a build context is a URL (git or HTTP)
// rather than a directory.
func isRemoteContext(c string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "ssh://", "github.com/"} {
		if strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}

// checkBuildFiles says before a deploy that the context directory or the
// Dockerfile it would build from is missing. What is inside the context
// (.dockerignore, symlinks) is read by the deploy.
func checkBuildFiles(doc *composeDoc, name string, b *types.BuildConfig, e *errs) {
	if isRemoteContext(b.Context) {
		return
	}
	at := []string{"build", "context"}
	if doc.lookup("services", name, "build", "context") == nil {
		at = at[:1]
	}
	if st, err := os.Stat(b.Context); err != nil || !st.IsDir() {
		doc.errorf(e, name, at, "create it, or point build.context at the directory holding the Dockerfile",
			"the build context %s is not a directory", doc.shown(b.Context))
		return
	}
	if b.DockerfileInline != "" {
		return
	}
	df := b.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if !filepath.IsAbs(df) {
		df = filepath.Join(b.Context, df)
	}
	if st, err := os.Stat(df); err != nil || !st.Mode().IsRegular() {
		keys := []string{"build", "dockerfile"}
		if doc.lookup("services", name, "build", "dockerfile") == nil {
			keys = at
		}
		doc.errorf(e, name, keys, "create it, or set build.dockerfile to its path (relative to the context)",
			"the Dockerfile %s does not exist", doc.shown(df))
	}
}

// shown is a path as the user would write it: relative to the compose
// file's directory when it lies below it.
func (d *composeDoc) shown(p string) string {
	if rel, err := filepath.Rel(filepath.Dir(d.files[0].abs), p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		if rel == "." {
			return rel
		}
		return "." + string(filepath.Separator) + rel
	}
	return p
}
