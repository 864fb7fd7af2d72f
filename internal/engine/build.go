package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Builder names the engine's two image builders.
type Builder string

const (
	// BuilderKit is BuildKit (builder-next). Through POST /build with the
	// context uploaded as the request body it needs no client session:
	// dockerd serves the uploaded tar to BuildKit itself (API 1.39+, so
	// Docker 20.10 and later).
	BuilderKit Builder = "buildkit"
	// BuilderClassic is the legacy builder, present on every engine.
	BuilderClassic Builder = "classic"
)

// BuildOptions are the settings of one image build. Dockerfile is a path
// inside the uploaded context.
type BuildOptions struct {
	Builder     Builder
	Tags        []string
	Dockerfile  string
	Args        map[string]*string
	Target      string
	Labels      map[string]string
	CacheFrom   []string
	NetworkMode string
	ExtraHosts  []string
	ShmSize     int64
	NoCache     bool
	Pull        bool
	Isolation   string
}

// BuildEvent is one line of build progress: a step starting (Line empty),
// or a line of the step's output.
type BuildEvent struct {
	Step   string
	Line   string
	Cached bool
}

// BuildFailedError is a build that failed in one of its steps: the step,
// the builder's message, and the step's last output lines.
type BuildFailedError struct {
	Host    string
	Builder Builder
	Step    string
	Msg     string
	Output  []string
}

func (e *BuildFailedError) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("host %s: build failed (%s builder): %s", e.Host, e.Builder, e.Msg)
	}
	return fmt.Sprintf("host %s: build failed (%s builder) at step %s: %s", e.Host, e.Builder, e.Step, e.Msg)
}

// ErrBuilderUnavailable says the engine does not offer the builder asked
// for; the caller may retry with the other one.
var ErrBuilderUnavailable = errors.New("the engine does not offer this builder")

// BuildImage builds an image from a context tar and returns its ID. Every
// step and output line goes to onEvent as it arrives. When the engine
// refuses the builder before reading the context (BuildKit on an engine
// without builder-next), the error wraps ErrBuilderUnavailable, and the
// context must be sent again.
func (c *Client) BuildImage(ctx context.Context, buildContext io.Reader, o BuildOptions, onEvent func(BuildEvent)) (string, error) {
	opts := client.ImageBuildOptions{
		Tags:        o.Tags,
		Dockerfile:  o.Dockerfile,
		BuildArgs:   o.Args,
		Target:      o.Target,
		Labels:      o.Labels,
		CacheFrom:   o.CacheFrom,
		NetworkMode: o.NetworkMode,
		ExtraHosts:  o.ExtraHosts,
		ShmSize:     o.ShmSize,
		NoCache:     o.NoCache,
		PullParent:  o.Pull,
		Isolation:   container.Isolation(o.Isolation),
		// A failed step leaves no intermediate container behind.
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	}
	if o.Builder == BuilderKit {
		opts.Version = build.BuilderBuildKit
	}
	res, err := c.api.ImageBuild(ctx, buildContext, opts)
	if err != nil {
		if o.Builder == BuilderKit && (cerrdefs.IsInvalidArgument(err) || cerrdefs.IsNotImplemented(err)) {
			return "", fmt.Errorf("host %s: %w: %v", c.Host(), ErrBuilderUnavailable, err)
		}
		return "", fmt.Errorf("host %s: building: %w", c.Host(), err)
	}
	defer res.Body.Close()
	r := newBuildReader(c.Host(), o.Builder, onEvent)
	return r.read(res.Body)
}

// buildReader follows the engine's JSON build stream. The classic builder
// sends text ("Step 2/5 : COPY ..." then the step's output); BuildKit
// sends its status protobufs as base64 in "moby.buildkit.trace" messages.
type buildReader struct {
	host    string
	builder Builder
	emit    func(BuildEvent)
	step    string   // classic: the current step
	output  []string // classic: the current step's output
	kit     *kitTrace
}

func newBuildReader(host string, b Builder, emit func(BuildEvent)) *buildReader {
	if emit == nil {
		emit = func(BuildEvent) {}
	}
	return &buildReader{host: host, builder: b, emit: emit, kit: newKitTrace(emit)}
}

// maxOutput bounds the output lines kept for the error of a failed step.
const maxOutput = 40

func (r *buildReader) read(body io.Reader) (string, error) {
	dec := json.NewDecoder(body)
	var imageID string
	for {
		var msg struct {
			Stream      string          `json:"stream"`
			ID          string          `json:"id"`
			Aux         json.RawMessage `json:"aux"`
			Error       string          `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("host %s: reading the build output: %w", r.host, err)
		}
		switch {
		case msg.ErrorDetail != nil || msg.Error != "":
			m := msg.Error
			if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
				m = msg.ErrorDetail.Message
			}
			return "", r.failure(m)
		case msg.ID == "moby.buildkit.trace":
			var raw []byte
			if err := json.Unmarshal(msg.Aux, &raw); err == nil {
				r.kit.add(raw)
			}
		case len(msg.Aux) > 0:
			var aux struct{ ID string }
			if json.Unmarshal(msg.Aux, &aux) == nil && aux.ID != "" {
				imageID = aux.ID
			}
		case msg.Stream != "":
			r.classicLine(msg.Stream)
		}
	}
	if imageID == "" {
		return "", fmt.Errorf("host %s: the build ended without an image (%s builder)", r.host, r.builder)
	}
	return imageID, nil
}

// ansiEscape matches the colour codes the classic builder wraps a step's
// stderr in.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// classicLine takes the classic builder's text, which arrives in pieces
// ("Step 1/3 : FROM scratch", then "\n").
func (r *buildReader) classicLine(s string) {
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		line = ansiEscape.ReplaceAllString(strings.TrimRight(line, "\r"), "")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "Step ") && strings.Contains(line, " : ") {
			r.step, r.output = line, nil
			r.emit(BuildEvent{Step: line})
			continue
		}
		if strings.HasPrefix(line, " ---> ") || strings.HasPrefix(line, "Removing intermediate container ") {
			continue // layer IDs and intermediate containers: noise
		}
		r.output = appendBounded(r.output, line)
		r.emit(BuildEvent{Step: r.step, Line: line})
	}
}

func (r *buildReader) failure(msg string) error {
	e := &BuildFailedError{Host: r.host, Builder: r.builder, Msg: msg, Step: r.step, Output: r.output}
	if step, out, ok := r.kit.failed(); ok {
		e.Step, e.Output = step, out
	}
	return e
}

func appendBounded(lines []string, line string) []string {
	lines = append(lines, line)
	if len(lines) > maxOutput {
		lines = lines[len(lines)-maxOutput:]
	}
	return lines
}

// LoadImage loads an image archive (as ImageSaveReader writes it) into
// the engine, with its tags.
func (c *Client) LoadImage(ctx context.Context, archive io.Reader) error {
	res, err := c.api.ImageLoad(ctx, archive, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("host %s: loading an image: %w", c.Host(), err)
	}
	defer res.Close()
	if err := jsonStreamError(res); err != nil {
		return fmt.Errorf("host %s: loading an image: %w", c.Host(), err)
	}
	return nil
}

// SaveImages streams the images refs name, with those tags, as one
// archive for LoadImage. The caller closes it.
func (c *Client) SaveImages(ctx context.Context, refs []string) (io.ReadCloser, error) {
	rc, err := c.api.ImageSave(ctx, refs)
	if err != nil {
		return nil, fmt.Errorf("host %s: saving %s: %w", c.Host(), strings.Join(refs, ", "), err)
	}
	return rc, nil
}

// TagImage gives the image source (a reference or ID) the tag target.
func (c *Client) TagImage(ctx context.Context, source, target string) error {
	if _, err := c.api.ImageTag(ctx, client.ImageTagOptions{Source: source, Target: target}); err != nil {
		return fmt.Errorf("host %s: tagging %s as %s: %w", c.Host(), source, target, err)
	}
	return nil
}
