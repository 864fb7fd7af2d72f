package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// copyFiles writes files into a created container through the Engine
// API, the way docker compose injects secrets and configs given as content
// or taken from the environment: the bytes go from berth's memory into the
// container's filesystem, and never into a label, a log line, an error or
// a file on the host that berth would have to clean up (so it works the
// same on a remote host over ssh). A read-only root filesystem cannot be
// written this way; config refuses that combination.
func (c *Client) copyFiles(ctx context.Context, id string, files []File) error {
	if len(files) == 0 {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	owned := false
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/" && d != "."; d = path.Dir(d) {
			dirs[strings.TrimPrefix(d, "/")] = true
		}
		owned = owned || f.UID != 0 || f.GID != 0
	}
	// Parents first, so the engine creates the directories the target
	// needs (/run/secrets in a FROM scratch image).
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	now := time.Now()
	for _, d := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
	}
	for _, f := range files {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode, Size: int64(len(f.Data)), Uid: f.UID, Gid: f.GID, ModTime: now}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	// The error never quotes the archive, so no value can leak through it.
	_, err := c.api.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf, CopyUIDGID: owned})
	if err != nil {
		return fmt.Errorf("writing %d secret and config file(s) into the container: %w", len(files), err)
	}
	return nil
}
