package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// ImageInfo is what berth reads back from an image.
type ImageInfo struct {
	ID          string
	RepoTags    []string
	RepoDigests []string
	Labels      map[string]string
	User        string // the image's configured USER; "" is root
}

// InspectImage reads a local image; IsNotFound(err) when it is absent.
func (c *Client) InspectImage(ctx context.Context, ref string) (ImageInfo, error) {
	res, err := c.api.ImageInspect(ctx, ref)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("host %s: image %s: %w", c.Host(), ref, err)
	}
	info := ImageInfo{ID: res.ID, RepoTags: res.RepoTags, RepoDigests: res.RepoDigests}
	if res.Config != nil {
		info.Labels, info.User = res.Config.Labels, res.Config.User
	}
	return info, nil
}

// ImageFile is one file of an imported image's root filesystem.
type ImageFile struct {
	Path string
	Mode int64
	Data []byte
}

// ImportImage creates the image ref from a root filesystem of files, with
// Dockerfile-style changes (ENTRYPOINT, LABEL, ...) applied. Import needs no
// builder and no registry, on API 1.41 and on current engines alike.
func (c *Client) ImportImage(ctx context.Context, ref string, files []ImageFile, changes []string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Path, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	rc, err := c.api.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("host %s: importing image %s: %w", c.Host(), ref, err)
	}
	defer rc.Close()
	if err := jsonStreamError(rc); err != nil {
		return fmt.Errorf("host %s: importing image %s: %w", c.Host(), ref, err)
	}
	return nil
}

// jsonStreamError reads an engine progress stream to its end and returns the
// first error message it carried.
func jsonStreamError(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

// PullImage pulls ref from its registry.
func (c *Client) PullImage(ctx context.Context, ref string) error {
	rc, err := c.api.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("host %s: pulling %s: %w", c.Host(), ref, err)
	}
	defer rc.Close()
	if err := jsonStreamError(rc); err != nil {
		return fmt.Errorf("host %s: pulling %s: %w", c.Host(), ref, err)
	}
	return nil
}
