package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// DefaultEndpoint is used when neither berth.yaml nor DOCKER_HOST names one.
const DefaultEndpoint = "unix:///var/run/docker.sock"

// pingTimeout bounds the first contact with an engine so that a wrong or
// firewalled endpoint fails in seconds instead of hanging a deploy.
const pingTimeout = 5 * time.Second

// Endpoint says how to reach one engine.
type Endpoint struct {
	Host      string // the berth.yaml host name, for messages
	URL       string // unix:///... or tcp://host:port
	TLSCert   string // directory with ca.pem, cert.pem, key.pem ("" = no TLS)
	TLSVerify bool
}

// Client is a connection to one engine. It is safe for concurrent use.
type Client struct {
	api      *client.Client
	endpoint Endpoint
	// APIVersion is the negotiated Engine API version.
	APIVersion string
	// ServerVersion is the engine's own version, for reports.
	ServerVersion string
	// Arch is the engine's CPU architecture in Go's terms (amd64, arm64).
	Arch string
}

// UnreachableError says which host and endpoint could not be reached.
type UnreachableError struct {
	Host     string
	Endpoint string
	Err      error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("host %s: cannot reach the Docker engine at %s: %v (fix: check that dockerd is running there and that this user may use it, or correct hosts.%s in berth.yaml / DOCKER_HOST)",
		e.Host, e.Endpoint, e.Err, e.Host)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Connect opens a client for ep and checks, within a few seconds, that the
// engine answers; the API version is negotiated down to what it speaks.
func Connect(ctx context.Context, ep Endpoint) (*Client, error) {
	if ep.URL == "" {
		ep.URL = DefaultEndpoint
	}
	opts := []client.Opt{client.WithHost(ep.URL)}
	switch {
	case strings.HasPrefix(ep.URL, "unix://"), strings.HasPrefix(ep.URL, "tcp://"):
	default:
		return nil, fmt.Errorf("host %s: endpoint %q is not supported (fix: use unix:///path or tcp://host:port)", ep.Host, ep.URL)
	}
	if ep.TLSCert != "" {
		cfg, err := tlsConfig(ep)
		if err != nil {
			return nil, err
		}
		// WithHTTPClient replaces the transport WithHost set up, so the
		// host is applied again on top of it.
		opts = append(opts,
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, CheckRedirect: client.CheckRedirect}),
			client.WithHost(ep.URL),
			client.WithScheme("https"))
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("host %s: endpoint %s: %w", ep.Host, ep.URL, err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err = api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		api.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(pctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", pingTimeout)
		}
		return nil, &UnreachableError{Host: ep.Host, Endpoint: ep.URL, Err: err}
	}
	c := &Client{api: api, endpoint: ep, APIVersion: api.ClientVersion()}
	if v, err := api.ServerVersion(pctx, client.ServerVersionOptions{}); err == nil {
		c.ServerVersion = v.Version
		c.Arch = v.Arch
	}
	return c, nil
}

func tlsConfig(ep Endpoint) (*tls.Config, error) {
	dir := ep.TLSCert
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("host %s: loading the TLS client certificate from %s: %w (fix: put cert.pem and key.pem there, or point DOCKER_CERT_PATH / hosts.%s.tls.cert_path at them)", ep.Host, dir, err, ep.Host)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if ep.TLSVerify {
		pem, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
		if err != nil {
			return nil, fmt.Errorf("host %s: reading the CA certificate: %w (fix: put ca.pem in %s)", ep.Host, err, dir)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("host %s: %s holds no PEM certificate", ep.Host, filepath.Join(dir, "ca.pem"))
		}
		cfg.RootCAs = pool
	} else {
		cfg.InsecureSkipVerify = true //nolint:gosec // DOCKER_TLS_VERIFY unset: the Docker CLI convention
	}
	return cfg, nil
}

// EngineArch is the engine's CPU architecture.
func (c *Client) EngineArch() string { return c.Arch }

// Host is the berth.yaml name of the host this client talks to.
func (c *Client) Host() string { return c.endpoint.Host }

// Endpoint is the URL this client talks to.
func (c *Client) Endpoint() string { return c.endpoint.URL }

// Close releases the client's connections.
func (c *Client) Close() error { return c.api.Close() }
