package audit

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// imageSaver is the engine call behind --deep: `docker save` of one image.
type imageSaver interface {
	ImageSaveReader(ctx context.Context, ref string) (io.ReadCloser, error)
}

// layerEntry is one file header of one layer.
type layerEntry struct {
	name string
	mode fs.FileMode
}

// savedImageFiles reads the file headers of every layer of a saved image
// (both the classic `docker save` layout, <id>/layer.tar, and the OCI one,
// blobs/sha256/<digest>) and yields them oldest layer first, as
// manifest.json orders them. Only headers are kept, never file contents.
func savedImageFiles(open func() (io.ReadCloser, error)) func(yield func(name string, mode fs.FileMode) bool) error {
	return func(yield func(string, fs.FileMode) bool) error {
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		layers := map[string][]layerEntry{}
		var manifest []struct{ Layers []string }
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("reading the saved image: %w", err)
			}
			switch {
			case h.Name == "manifest.json":
				if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
					return fmt.Errorf("reading the saved image's manifest: %w", err)
				}
			case h.Typeflag == tar.TypeReg && (strings.HasSuffix(h.Name, "/layer.tar") || strings.HasPrefix(h.Name, "blobs/")):
				if es, ok := layerHeaders(tr); ok {
					layers[h.Name] = es
				}
			}
		}
		if len(manifest) == 0 {
			return errors.New("the saved image has no manifest.json")
		}
		for _, l := range manifest[0].Layers {
			es, ok := layers[l]
			if !ok {
				return fmt.Errorf("the saved image lacks its layer %s", l)
			}
			for _, e := range es {
				if !yield(e.name, e.mode) {
					return nil
				}
			}
		}
		return nil
	}
}

// layerHeaders reads a layer as a tar (gzip-compressed or not); ok is false
// for a blob that is not a layer (an image config).
func layerHeaders(r io.Reader) ([]layerEntry, bool) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, false
		}
		defer gz.Close()
		src = gz
	}
	tr := tar.NewReader(src)
	var out []layerEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, true
		}
		if err != nil {
			return nil, len(out) > 0
		}
		out = append(out, layerEntry{name: h.Name, mode: h.FileInfo().Mode()})
	}
}
