package build

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context ready to be sent: the files of a directory
// that .dockerignore keeps, and the Dockerfile.
type Context struct {
	// Dir is the context directory (absolute).
	Dir string
	// Dockerfile is the Dockerfile's path inside the tar.
	Dockerfile string
	// Hidden is set when the Dockerfile is in the tar only for the builder
	// to read (excluded by .dockerignore, outside the context, or
	// dockerfile_inline): docker build keeps such a file out of the image,
	// and of the two builders only the classic one can when the context
	// is an upload (see chooseBuilder).
	Hidden bool
	// HiddenWhy says why, for the progress line.
	HiddenWhy string

	entries []entry
	// extra are files berth adds: the Dockerfile from outside or inline,
	// and the .dockerignore that tells the classic builder to drop them.
	extra []extraFile
}

type entry struct {
	rel  string // slash-separated path inside the context
	abs  string
	info fs.FileInfo
	link string // symlink target
}

type extraFile struct {
	name string
	data []byte
}

// ContextError is a build context berth refuses to send, with the path at
// fault and the fix.
type ContextError struct {
	Path string
	Msg  string
	Fix  string
}

func (e *ContextError) Error() string {
	return fmt.Sprintf("build context: %s: %s (fix: %s)", e.Path, e.Msg, e.Fix)
}

// PrepareContext reads the context directory dir as `docker build` would
// send it: .dockerignore applied with its own pattern rules (negations,
// **, a Dockerfile-specific <Dockerfile>.dockerignore first, as BuildKit
// reads it), the Dockerfile always included, even when ignored or outside
// the context (compose allows dockerfile: ../x), since the builder needs
// it. A symlink that leaves the context is refused: the builder would get
// a dangling link where the user expects the file.
func PrepareContext(dir, dockerfile, inline string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, &ContextError{Path: dir, Msg: "the build context is not a directory", Fix: "create it, or point build.context at the directory holding the Dockerfile"}
	}
	c := &Context{Dir: abs}
	dfAbs := ""
	if inline == "" {
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		dfAbs = dockerfile
		if !filepath.IsAbs(dfAbs) {
			dfAbs = filepath.Join(abs, dockerfile)
		}
		if st, err := os.Stat(dfAbs); err != nil || !st.Mode().IsRegular() {
			return nil, &ContextError{Path: dfAbs, Msg: "the Dockerfile does not exist", Fix: "create it, or set build.dockerfile to its path (relative to the context)"}
		}
	}
	excludes, ignoreData, err := readIgnore(abs, dfAbs)
	if err != nil {
		return nil, err
	}
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, &ContextError{Path: filepath.Join(abs, ".dockerignore"), Msg: err.Error(), Fix: "correct the pattern"}
	}
	if err := c.walk(pm); err != nil {
		return nil, err
	}
	c.placeDockerfile(pm, dfAbs, inline, ignoreData)
	return c, nil
}

// readIgnore reads <Dockerfile>.dockerignore when it exists, else the
// context's .dockerignore.
func readIgnore(dir, dockerfile string) ([]string, []byte, error) {
	candidates := []string{filepath.Join(dir, ".dockerignore")}
	if dockerfile != "" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, p := range candidates {
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, &ContextError{Path: p, Msg: err.Error(), Fix: "make it readable"}
		}
		pats, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, nil, &ContextError{Path: p, Msg: err.Error(), Fix: "correct the file"}
		}
		return pats, data, nil
	}
	return nil, nil, nil
}

func (c *Context) walk(pm *patternmatcher.PatternMatcher) error {
	parents := map[string]patternmatcher.MatchInfo{}
	return filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &ContextError{Path: p, Msg: err.Error(), Fix: "make it readable, or add it to .dockerignore"}
		}
		if p == c.Dir {
			return nil
		}
		rel, _ := filepath.Rel(c.Dir, p)
		skip, info, err := pm.MatchesUsingParentResults(rel, parents[filepath.Dir(rel)])
		if err != nil {
			return &ContextError{Path: p, Msg: err.Error(), Fix: "correct .dockerignore"}
		}
		if d.IsDir() {
			parents[rel] = info
		}
		if skip {
			if d.IsDir() && !mayReinclude(pm, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return &ContextError{Path: p, Msg: err.Error(), Fix: "make it readable, or add it to .dockerignore"}
		}
		e := entry{rel: filepath.ToSlash(rel), abs: p, info: fi}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return &ContextError{Path: p, Msg: err.Error(), Fix: "add it to .dockerignore"}
			}
			if err := c.checkLink(p, target); err != nil {
				return err
			}
			e.link = target
		case fi.Mode()&fs.ModeSocket != 0:
			return nil // docker build skips sockets too
		case fi.Mode()&(fs.ModeNamedPipe|fs.ModeDevice|fs.ModeCharDevice) != 0:
			return &ContextError{Path: p, Msg: "a device or FIFO cannot be part of a build context", Fix: "add it to .dockerignore"}
		}
		c.entries = append(c.entries, e)
		return nil
	})
}

// mayReinclude says whether a directory .dockerignore excludes must still
// be walked because a negation (!dir/keep) may take something in it back.
func mayReinclude(pm *patternmatcher.PatternMatcher, rel string) bool {
	if !pm.Exclusions() {
		return false
	}
	prefix := rel + string(filepath.Separator)
	for _, pat := range pm.Patterns() {
		if pat.Exclusion() && strings.HasPrefix(pat.String()+string(filepath.Separator), prefix) {
			return true
		}
	}
	return false
}

// checkLink refuses a symlink whose target lies outside the context.
func (c *Context) checkLink(p, target string) error {
	resolved := target
	if !filepath.IsAbs(target) {
		resolved = filepath.Join(filepath.Dir(p), target)
	}
	if r, err := filepath.Rel(c.Dir, filepath.Clean(resolved)); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return &ContextError{Path: p, Msg: fmt.Sprintf("symlink to %s leaves the build context %s; the builder would get a dangling link, not the file", target, c.Dir),
			Fix: "copy the file into the context, move the context up to include it, or add the link to .dockerignore"}
	}
	return nil
}

// placeDockerfile puts the Dockerfile in the tar. One the context does not
// carry (ignored, outside, inline) is added, and .dockerignore gets its
// name so the classic builder drops it after reading, as the docker CLI
// arranges it.
func (c *Context) placeDockerfile(pm *patternmatcher.PatternMatcher, dfAbs, inline string, ignoreData []byte) {
	var data []byte
	switch {
	case inline != "":
		data = []byte(inline)
		c.HiddenWhy = "the Dockerfile is inline (dockerfile_inline)"
	default:
		rel, err := filepath.Rel(c.Dir, dfAbs)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			if !c.has(filepath.ToSlash(rel)) {
				// .dockerignore excludes it: sent anyway, the builder needs it.
				data, _ = os.ReadFile(dfAbs)
				c.Dockerfile = filepath.ToSlash(rel)
				c.Hidden, c.HiddenWhy = true, ".dockerignore excludes the Dockerfile"
				c.extra = append(c.extra, extraFile{name: c.Dockerfile, data: data})
				c.hideIgnoreFile(pm, ignoreData)
				return
			}
			c.Dockerfile = filepath.ToSlash(rel)
			return
		}
		data, _ = os.ReadFile(dfAbs)
		c.HiddenWhy = "the Dockerfile is outside the build context"
	}
	sum := sha256.Sum256(data)
	c.Dockerfile = ".berth-dockerfile-" + hex.EncodeToString(sum[:6])
	c.Hidden = true
	c.extra = append(c.extra, extraFile{name: c.Dockerfile, data: data})
	c.hideIgnoreFile(pm, ignoreData)
}

// hideIgnoreFile writes the .dockerignore the classic builder reads after
// the Dockerfile: the user's patterns plus the Dockerfile and itself.
func (c *Context) hideIgnoreFile(_ *patternmatcher.PatternMatcher, ignoreData []byte) {
	var kept []entry
	for _, e := range c.entries {
		if e.rel != ".dockerignore" {
			kept = append(kept, e)
		}
	}
	c.entries = kept
	data := append(append([]byte{}, ignoreData...), []byte("\n"+c.Dockerfile+"\n.dockerignore\n")...)
	c.extra = append(c.extra, extraFile{name: ".dockerignore", data: data})
}

func (c *Context) has(rel string) bool {
	for _, e := range c.entries {
		if e.rel == rel {
			return true
		}
	}
	return false
}

// Files lists the paths the tar holds, in order (for tests and messages).
func (c *Context) Files() []string {
	var out []string
	for _, e := range c.entries {
		out = append(out, e.rel)
	}
	for _, x := range c.extra {
		out = append(out, x.name)
	}
	return out
}

// WriteTar writes the context as the builder receives it: owned by root,
// as the docker CLI sends it.
func (c *Context) WriteTar(w io.Writer) error { return c.writeTar(w, false) }

// Hash is the context's content digest: the same tar without times, so
// touching a file or a fresh checkout does not count as a change.
func (c *Context) Hash() (string, error) {
	h := sha256.New()
	if err := c.writeTar(h, true); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (c *Context) writeTar(w io.Writer, noTimes bool) error {
	tw := tar.NewWriter(w)
	for _, e := range c.entries {
		hdr, err := tar.FileInfoHeader(e.info, e.link)
		if err != nil {
			return &ContextError{Path: e.abs, Msg: err.Error(), Fix: "add it to .dockerignore"}
		}
		hdr.Name = e.rel
		if e.info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		if noTimes {
			hdr.ModTime = time.Unix(0, 0)
		}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := copyFile(tw, e.abs, hdr.Size); err != nil {
				return err
			}
		}
	}
	for _, x := range c.extra {
		hdr := &tar.Header{Name: x.name, Mode: 0o644, Size: int64(len(x.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(x.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return &ContextError{Path: path, Msg: err.Error(), Fix: "make it readable, or add it to .dockerignore"}
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return &ContextError{Path: path, Msg: "changed while it was being sent: " + err.Error(), Fix: "deploy again once it is written"}
	}
	return nil
}
