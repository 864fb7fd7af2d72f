package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/moby/moby/client"
)

// The audit reads the engine as JSON documents, in the Engine API's own
// shape, so that its checks are tested on recorded API responses and never
// depend on this package's types.

// InfoJSON returns the engine's /info document.
func (c *Client) InfoJSON(ctx context.Context) ([]byte, error) {
	res, err := c.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return nil, fmt.Errorf("host %s: reading engine info: %w", c.Host(), err)
	}
	return json.Marshal(res.Info)
}

// NetworkJSON returns a network's inspect document.
func (c *Client) NetworkJSON(ctx context.Context, name string) ([]byte, error) {
	res, err := c.api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("host %s: inspecting network %s: %w", c.Host(), name, err)
	}
	if len(res.Raw) > 0 {
		return res.Raw, nil
	}
	return json.Marshal(res.Network)
}

// ImageListJSON returns the /images/json list (all images with all=true,
// intermediate layers included).
func (c *Client) ImageListJSON(ctx context.Context, all bool) ([]byte, error) {
	res, err := c.api.ImageList(ctx, client.ImageListOptions{All: all})
	if err != nil {
		return nil, fmt.Errorf("host %s: listing images: %w", c.Host(), err)
	}
	return json.Marshal(res.Items)
}

// ImageJSON returns an image's inspect document as the engine sent it.
func (c *Client) ImageJSON(ctx context.Context, ref string) ([]byte, error) {
	var raw bytes.Buffer
	res, err := c.api.ImageInspect(ctx, ref, client.ImageInspectWithRawResponse(&raw))
	if err != nil {
		return nil, fmt.Errorf("host %s: inspecting image %s: %w", c.Host(), ref, err)
	}
	if raw.Len() > 0 {
		return raw.Bytes(), nil
	}
	return json.Marshal(res.InspectResponse)
}

// ImageHistoryJSON returns an image's history (its build steps).
func (c *Client) ImageHistoryJSON(ctx context.Context, ref string) ([]byte, error) {
	res, err := c.api.ImageHistory(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("host %s: reading the history of image %s: %w", c.Host(), ref, err)
	}
	return json.Marshal(res.Items)
}

// UsesTLS says whether berth reaches this engine over TLS.
func (c *Client) UsesTLS() bool { return c.endpoint.TLSCert != "" }

// ImageSaveReader streams an image as `docker save` writes it: a tar of
// its layer tars and its manifest. The caller closes it.
func (c *Client) ImageSaveReader(ctx context.Context, ref string) (io.ReadCloser, error) {
	rc, err := c.api.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, fmt.Errorf("host %s: reading image %s: %w", c.Host(), ref, err)
	}
	return rc, nil
}
