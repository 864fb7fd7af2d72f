package build

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tree writes files (path -> content) under a new directory; a content
// starting with "->" makes a symlink to the rest.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tarFiles reads back what the builder would receive: name -> content.
func tarFiles(t *testing.T, c *Context) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d; the builder should get root-owned files", h.Name, h.Uid, h.Gid)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		case tar.TypeSymlink:
			out[h.Name] = "->" + h.Linkname
		case tar.TypeDir:
			out[h.Name] = "<dir>"
		}
	}
}

func TestContextDockerignore(t *testing.T) {
	dir := tree(t, map[string]string{
		"Dockerfile":          "FROM scratch\n",
		".dockerignore":       "# comment\n*.log\nnode_modules\nsecrets/**\n!secrets/public.pem\n**/*.tmp\n",
		"app/main.go":         "package main",
		"app/debug.log":       "x", // *.log is anchored at the root: kept
		"build.log":           "x", // excluded
		"node_modules/a/b.js": "x", // excluded, whole directory
		"secrets/key.pem":     "k", // excluded
		"secrets/public.pem":  "p", // taken back by the negation
		"deep/er/x.tmp":       "t", // **/*.tmp
		"link":                "->app/main.go",
	})
	c, err := PrepareContext(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := tarFiles(t, c)
	want := map[string]string{
		"Dockerfile": "FROM scratch\n", ".dockerignore": "# comment\n*.log\nnode_modules\nsecrets/**\n!secrets/public.pem\n**/*.tmp\n",
		"app/": "<dir>", "app/main.go": "package main", "app/debug.log": "x",
		"secrets/": "<dir>", "secrets/public.pem": "p", "deep/": "<dir>", "deep/er/": "<dir>", "link": "->app/main.go",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("context holds\n%v\nwant\n%v", got, want)
	}
	if c.Dockerfile != "Dockerfile" || c.Hidden {
		t.Errorf("Dockerfile %q hidden %v; want the context's own, not hidden", c.Dockerfile, c.Hidden)
	}
}

// docker build sends an ignored Dockerfile anyway (the builder must read
// it) and has the classic builder drop it, and .dockerignore, afterwards.
func TestContextDockerfileIgnored(t *testing.T) {
	dir := tree(t, map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY . /\n",
		".dockerignore": "Dockerfile\n.dockerignore\n",
		"a.txt":         "a",
	})
	c, err := PrepareContext(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := tarFiles(t, c)
	if got["Dockerfile"] != "FROM scratch\nCOPY . /\n" || got["a.txt"] != "a" {
		t.Fatalf("context %v lacks the Dockerfile or a.txt", got)
	}
	if !c.Hidden || c.Dockerfile != "Dockerfile" {
		t.Errorf("Hidden %v Dockerfile %q; want the Dockerfile hidden", c.Hidden, c.Dockerfile)
	}
	ign := got[".dockerignore"]
	if !strings.Contains(ign, "\nDockerfile\n.dockerignore\n") {
		t.Errorf(".dockerignore sent %q does not tell the builder to drop the Dockerfile and itself", ign)
	}
	if b, _, _ := chooseBuilder(func(string) string { return "" }, c); b != "classic" {
		t.Errorf("builder %s for a hidden Dockerfile; want classic, which keeps it out of the image", b)
	}
}

func TestContextDockerfileOutside(t *testing.T) {
	root := tree(t, map[string]string{
		"docker/web.Dockerfile": "FROM scratch\nCOPY a.txt /\n",
		"web/a.txt":             "a",
	})
	c, err := PrepareContext(filepath.Join(root, "web"), "../docker/web.Dockerfile", "")
	if err != nil {
		t.Fatal(err)
	}
	got := tarFiles(t, c)
	if !strings.HasPrefix(c.Dockerfile, ".berth-dockerfile-") || got[c.Dockerfile] != "FROM scratch\nCOPY a.txt /\n" {
		t.Fatalf("Dockerfile %q, context %v; want the outside Dockerfile added under a generated name", c.Dockerfile, got)
	}
	if got["a.txt"] != "a" || !strings.Contains(got[".dockerignore"], c.Dockerfile) || !c.Hidden {
		t.Errorf("context %v hidden %v; want a.txt and a .dockerignore naming the added Dockerfile", got, c.Hidden)
	}
}

func TestContextDockerfileInline(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "a"})
	c, err := PrepareContext(dir, "", "FROM scratch\nCOPY a.txt /\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := tarFiles(t, c); got[c.Dockerfile] != "FROM scratch\nCOPY a.txt /\n" {
		t.Errorf("inline Dockerfile not in the context: %v", got)
	}
}

// A Dockerfile-specific ignore file wins over the context's, as BuildKit
// and docker compose read them.
func TestContextDockerfileSpecificIgnore(t *testing.T) {
	dir := tree(t, map[string]string{
		"web.Dockerfile":              "FROM scratch\n",
		"web.Dockerfile.dockerignore": "b.txt\n",
		".dockerignore":               "a.txt\n",
		"a.txt":                       "a",
		"b.txt":                       "b",
	})
	c, err := PrepareContext(dir, "web.Dockerfile", "")
	if err != nil {
		t.Fatal(err)
	}
	got := tarFiles(t, c)
	if _, ok := got["b.txt"]; ok || got["a.txt"] != "a" {
		t.Errorf("context %v; want a.txt kept and b.txt ignored", got)
	}
}

func TestContextRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		path  string // the path the error must name
		msg   string
	}{
		{"symlink up and out", map[string]string{"Dockerfile": "FROM scratch", "conf/secrets": "->../../etc"}, "conf/secrets", "leaves the build context"},
		{"absolute symlink", map[string]string{"Dockerfile": "FROM scratch", "passwd": "->/etc/passwd"}, "passwd", "leaves the build context"},
		{"no Dockerfile", map[string]string{"a.txt": "a"}, "Dockerfile", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tree(t, tc.files)
			_, err := PrepareContext(dir, "", "")
			var ce *ContextError
			if !errors.As(err, &ce) {
				t.Fatalf("want a ContextError, got %v", err)
			}
			if ce.Path != filepath.Join(dir, tc.path) || !strings.Contains(err.Error(), tc.msg) || ce.Fix == "" {
				t.Errorf("error %q (path %s); want it to name %s, say %q and give a fix", err, ce.Path, tc.path, tc.msg)
			}
		})
	}
	// An ignored link is not sent, so it is not refused.
	dir := tree(t, map[string]string{"Dockerfile": "FROM scratch", ".dockerignore": "secrets\n", "secrets": "->/etc"})
	if _, err := PrepareContext(dir, "", ""); err != nil {
		t.Errorf("an ignored symlink leaving the context was refused: %v", err)
	}
	// A link that stays inside is sent as a link.
	dir = tree(t, map[string]string{"Dockerfile": "FROM scratch", "a/b": "x", "a/c": "->../a/b"})
	if _, err := PrepareContext(dir, "", ""); err != nil {
		t.Errorf("a symlink inside the context was refused: %v", err)
	}
}

// The hash decides whether a deploy rebuilds: content, names and modes
// count; modification times do not (a fresh checkout is no change).
func TestContextHash(t *testing.T) {
	dir := tree(t, map[string]string{"Dockerfile": "FROM scratch\n", "a.txt": "a", "ignored.log": "1", ".dockerignore": "*.log\n"})
	hash := func() string {
		t.Helper()
		c, err := PrepareContext(dir, "", "")
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Hash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h1 := hash()
	if h1 != hash() {
		t.Fatal("the hash of an unchanged context differs between two reads")
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	if hash() != h1 {
		t.Error("touching a file changed the hash")
	}
	if err := os.WriteFile(filepath.Join(dir, "ignored.log"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if hash() != h1 {
		t.Error("changing an ignored file changed the hash")
	}
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	h2 := hash()
	if h2 == h1 {
		t.Error("changing a file left the hash as it was")
	}
	if err := os.Chmod(filepath.Join(dir, "a.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if hash() == h2 {
		t.Error("changing a file's mode left the hash as it was")
	}
}
