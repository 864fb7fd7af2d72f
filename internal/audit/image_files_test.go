package audit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// savedImage builds a `docker save` archive: manifest.json naming the
// layers in order, each layer a tar (gzip-compressed when gz).
func savedImage(t *testing.T, gz bool, layers ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	var names []string
	for i, l := range layers {
		name := "blobs/sha256/" + strings.Repeat(string(rune('a'+i)), 64)
		if !gz {
			name = strings.Repeat(string(rune('a'+i)), 64) + "/layer.tar"
		} else {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(l)
			w.Close()
			l = z.Bytes()
		}
		names = append(names, name)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(l)), Typeflag: tar.TypeReg})
		tw.Write(l)
	}
	cfg := []byte(`{"architecture":"amd64"}`) // a blob that is not a layer
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + strings.Repeat("f", 64), Mode: 0o644, Size: int64(len(cfg)), Typeflag: tar.TypeReg})
	tw.Write(cfg)
	manifest := `[{"Config":"x","Layers":["` + strings.Join(names, `","`) + `"]}]`
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg})
	tw.Write([]byte(manifest))
	tw.Close()
	return b.Bytes()
}

func layer(t *testing.T, files map[string]int64) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, mode := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Typeflag: tar.TypeReg})
	}
	tw.Close()
	return b.Bytes()
}

func TestSavedImageFiles(t *testing.T) {
	suid, err := os.ReadFile("testdata/images/fixture-suid.layer.tar")
	if err != nil {
		t.Fatal(err)
	}
	for _, gz := range []bool{false, true} {
		// The first layer brings setuid helpers; the second deletes one.
		later := layer(t, map[string]int64{"usr/bin/.wh.helper": 0o644, "app": 0o755})
		archive := savedImage(t, gz, suid, later)
		files := savedImageFiles(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil })
		var names []string
		if err := files(func(name string, mode fs.FileMode) bool {
			names = append(names, name)
			return true
		}); err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if len(names) == 0 || names[len(names)-1] != "app" && names[len(names)-2] != "app" {
			t.Fatalf("gz=%v: layers not in manifest order: %v", gz, names)
		}
		var setuid Check
		for _, c := range ImageChecks() {
			if c.ID == "image-setuid" {
				setuid = c
			}
		}
		st, ev := judgeImageSetuid(setuid, &imageView{files: files}, imageNow)
		if st == Pass || !strings.Contains(ev, "/usr/bin/wallish") || strings.Contains(ev, "/usr/bin/helper") {
			t.Errorf("gz=%v: %s %s (helper was deleted by the later layer, wallish stays)", gz, st, ev)
		}
	}
	// Not a saved image: an error, which the check reports as skipped.
	files := savedImageFiles(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("not a tar")), nil })
	if err := files(func(string, fs.FileMode) bool { return true }); err == nil {
		t.Error("garbage read as a saved image")
	}
}
