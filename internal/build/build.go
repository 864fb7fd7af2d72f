package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

// Engine is what building needs from a host; *engine.Client is the real one.
type Engine interface {
	Host() string
	InspectImage(ctx context.Context, ref string) (engine.ImageInfo, error)
	BuildImage(ctx context.Context, buildContext io.Reader, o engine.BuildOptions, onEvent func(engine.BuildEvent)) (string, error)
	TagImage(ctx context.Context, source, target string) error
	SaveImages(ctx context.Context, refs []string) (io.ReadCloser, error)
	LoadImage(ctx context.Context, archive io.Reader) error
}

var _ Engine = (*engine.Client)(nil)

// Progress receives one line of build progress for a host.
type Progress func(host, step, detail string)

// Request is the build of one service for one deploy.
type Request struct {
	App     string
	Service *config.Service
	// Hosts are the service's engines: the first builds, the others get a
	// copy of the image (save, then load), so a service is built once
	// whatever the number of hosts.
	Hosts []Engine
	// NoBuild deploys the image already tagged for the service.
	NoBuild  bool
	Progress Progress
	// Env looks up DOCKER_BUILDKIT; nil: the process environment.
	Env func(string) string
	// Now stamps the build time; nil: time.Now.
	Now func() time.Time
}

// Result is the image a service's releases run.
type Result struct {
	// Ref is name:revision, the tag the release runs (so its version is
	// the revision).
	Ref     string
	ImageID string
	Built   bool
}

// Service builds a service's image unless an image built from the same
// context and settings is already tagged for it, then makes sure every
// host has it.
func Service(ctx context.Context, req Request) (Result, error) {
	svc := req.Service
	b := svc.Compose.Build
	if b == nil {
		return Result{}, fmt.Errorf("service %s has no build: section", svc.Name)
	}
	if req.Progress == nil {
		req.Progress = func(string, string, string) {}
	}
	first := req.Hosts[0]
	name := ImageName(req.App, svc.Name, svc.Compose.Image)
	fail := func(host string, err error, fix string) error {
		return &Error{Service: svc.Name, Source: svc.Source, Host: host, Err: err, Fix: fix}
	}

	var res Result
	if req.NoBuild {
		info, err := first.InspectImage(ctx, name)
		if engine.IsNotFound(err) {
			return Result{}, fail(first.Host(), fmt.Errorf("--no-build: image %s is not on the host", name),
				"deploy without --no-build to build it, or build and tag "+name+" there yourself")
		} else if err != nil {
			return Result{}, err
		}
		ref, err := revisionRef(ctx, first, name, info)
		if err != nil {
			return Result{}, err
		}
		req.Progress(first.Host(), "build", "--no-build: using "+ref)
		res = Result{Ref: ref, ImageID: info.ID}
	} else {
		bc, err := PrepareContext(b.Context, b.Dockerfile, b.DockerfileInline)
		if err != nil {
			return Result{}, fail("", err, "")
		}
		req.Progress(first.Host(), "build", "hashing the context "+bc.Dir)
		hash, err := settingsHash(bc, b)
		if err != nil {
			return Result{}, fail("", err, "")
		}
		info, err := first.InspectImage(ctx, name)
		if err == nil && info.Labels[LabelHash] == hash {
			ref, err := revisionRef(ctx, first, name, info)
			if err != nil {
				return Result{}, err
			}
			req.Progress(first.Host(), "build", "unchanged: "+ref+" was built from this context, not rebuilt")
			res = Result{Ref: ref, ImageID: info.ID}
		} else {
			if err != nil && !engine.IsNotFound(err) {
				return Result{}, err
			}
			res, err = buildOn(ctx, req, first, bc, name, hash)
			if err != nil {
				return Result{}, err
			}
		}
	}
	for _, eng := range req.Hosts[1:] {
		if err := copyImage(ctx, req, first, eng, []string{name, res.Ref}, res.ImageID); err != nil {
			return Result{}, fail(eng.Host(), err, "check that the host has room for the image and answers, then deploy again")
		}
	}
	return res, nil
}

// revisionRef is the revision tag of an image found by name, put back if
// something removed it.
func revisionRef(ctx context.Context, eng Engine, name string, info engine.ImageInfo) (string, error) {
	rev := info.Labels[LabelRevision]
	if rev == "" {
		return name, nil // not built by berth: run it by its name
	}
	ref := RevisionTag(name, rev)
	if cur, err := eng.InspectImage(ctx, ref); err == nil && cur.ID == info.ID {
		return ref, nil
	}
	return ref, eng.TagImage(ctx, info.ID, ref)
}

// settingsHash covers the context and every setting that changes what is
// built, so a changed build arg rebuilds as surely as a changed file.
func settingsHash(bc *Context, b *types.BuildConfig) (string, error) {
	ctxHash, err := bc.Hash()
	if err != nil {
		return "", err
	}
	settings, _ := json.Marshal(struct {
		Dockerfile string
		Args       map[string]*string
		Target     string
		Labels     map[string]string
		CacheFrom  []string
		Network    string
		ExtraHosts []string
		ShmSize    int64
		Tags       []string
		Isolation  string
	}{bc.Dockerfile, b.Args, b.Target, b.Labels, b.CacheFrom, b.Network, b.ExtraHosts.AsList(":"), int64(b.ShmSize), b.Tags, b.Isolation})
	sum := sha256.Sum256(append([]byte(ctxHash+"\n"), settings...))
	return hex.EncodeToString(sum[:]), nil
}

// chooseBuilder picks BuildKit when nothing speaks against it. fallback
// says whether the classic builder may be tried when the engine has no
// BuildKit.
func chooseBuilder(env func(string) string, bc *Context) (b engine.Builder, fallback bool, why string) {
	switch env("DOCKER_BUILDKIT") {
	case "0", "false":
		return engine.BuilderClassic, false, "DOCKER_BUILDKIT=0"
	case "1", "true":
		return engine.BuilderKit, false, "DOCKER_BUILDKIT=1"
	}
	if bc.Hidden {
		// BuildKit reads an uploaded context as a plain archive: it would
		// leave the Dockerfile in it for COPY . to pick up, where docker
		// build keeps it out. The classic builder drops it.
		return engine.BuilderClassic, false, bc.HiddenWhy + ", and only the classic builder keeps it out of the image when the context is uploaded"
	}
	return engine.BuilderKit, true, ""
}

func buildOn(ctx context.Context, req Request, eng Engine, bc *Context, name, hash string) (Result, error) {
	svc, b := req.Service, req.Service.Compose.Build
	env, now := req.Env, req.Now
	if env == nil {
		env = os.Getenv
	}
	if now == nil {
		now = time.Now
	}
	rev := Revision(ctx, bc.Dir, hash)
	ref := RevisionTag(name, rev)
	labels := map[string]string{}
	for k, v := range b.Labels {
		labels[k] = v
	}
	labels[LabelHash] = hash
	labels[LabelRevision] = rev
	labels[LabelCreated] = now().UTC().Format(time.RFC3339)
	opts := engine.BuildOptions{
		Tags:        append([]string{name, ref}, b.Tags...),
		Dockerfile:  bc.Dockerfile,
		Args:        b.Args,
		Target:      b.Target,
		Labels:      labels,
		CacheFrom:   b.CacheFrom,
		NetworkMode: b.Network,
		ExtraHosts:  b.ExtraHosts.AsList(":"),
		ShmSize:     int64(b.ShmSize),
		NoCache:     b.NoCache,
		Pull:        b.Pull,
		Isolation:   b.Isolation,
	}
	builder, fallback, why := chooseBuilder(env, bc)
	show := func(ev engine.BuildEvent) {
		switch {
		case ev.Line != "":
			req.Progress(eng.Host(), "build", "  "+ev.Line)
		case ev.Cached:
			req.Progress(eng.Host(), "build", ev.Step+" (cached)")
		default:
			req.Progress(eng.Host(), "build", ev.Step)
		}
	}
	for {
		opts.Builder = builder
		detail := fmt.Sprintf("building %s with the %s builder", ref, builder)
		if why != "" {
			detail += " (" + why + ")"
		}
		req.Progress(eng.Host(), "build", detail)
		id, err := sendBuild(ctx, eng, bc, opts, show)
		if errors.Is(err, engine.ErrBuilderUnavailable) && fallback {
			builder, fallback, why = engine.BuilderClassic, false, "the engine refused BuildKit: "+err.Error()
			continue
		}
		if err != nil {
			var fe *engine.BuildFailedError
			if errors.As(err, &fe) {
				return Result{}, &Error{Service: svc.Name, Source: svc.Source, Host: eng.Host(), Step: fe.Step, Output: fe.Output, Err: errors.New(fe.Msg),
					Fix: "correct the failing step (or what it reads) and deploy again"}
			}
			var ce *ContextError
			if errors.As(err, &ce) {
				return Result{}, &Error{Service: svc.Name, Source: svc.Source, Err: ce}
			}
			return Result{}, err
		}
		req.Progress(eng.Host(), "build", "built "+ref)
		return Result{Ref: ref, ImageID: id, Built: true}, nil
	}
}

// sendBuild streams the context tar into the build as it is written.
func sendBuild(ctx context.Context, eng Engine, bc *Context, opts engine.BuildOptions, onEvent func(engine.BuildEvent)) (string, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := bc.WriteTar(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	id, err := eng.BuildImage(ctx, pr, opts, onEvent)
	pr.CloseWithError(errors.New("build finished"))
	if werr := <-done; werr != nil {
		var ce *ContextError
		if errors.As(werr, &ce) {
			return "", werr
		}
	}
	return id, err
}

// copyImage gives dst the image src has, unless dst has it already.
func copyImage(ctx context.Context, req Request, src, dst Engine, refs []string, id string) error {
	refs = dedupe(refs)
	present := true
	for _, ref := range refs {
		info, err := dst.InspectImage(ctx, ref)
		present = present && err == nil && info.ID == id
	}
	if present {
		return nil
	}
	req.Progress(dst.Host(), "build", "copying "+refs[len(refs)-1]+" from "+src.Host())
	rc, err := src.SaveImages(ctx, refs)
	if err != nil {
		return err
	}
	defer rc.Close()
	return dst.LoadImage(ctx, rc)
}

func dedupe(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
