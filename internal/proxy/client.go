package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Caller performs one admin API request and returns the response body. For
// status >= 400 it returns an error, preferably built with ParseAPIError, so
// the server's message reaches the user.
//
// The CLI implements it with `docker exec <proxy> /berth proxy admin METHOD
// PATH [BODY]`, which runs AdminCall: stdout carries the body whatever the
// status, and a non-zero exit means the body holds an error.
type Caller interface {
	Call(ctx context.Context, method, path string, body []byte) ([]byte, error)
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status  int // HTTP status; 0 when it did not survive the transport
	Message string
}

func (e *APIError) Error() string { return "berth-proxy: " + e.Message }

// Is makes errors.Is(err, ErrNoRoute) work on the client side as on the server.
func (e *APIError) Is(target error) bool {
	return target == ErrNoRoute && e.Status == http.StatusNotFound
}

// ParseAPIError turns an admin API error body into an *APIError.
func ParseAPIError(body []byte) error {
	var er errorResponse
	if err := json.Unmarshal(body, &er); err == nil && er.Error != "" {
		return &APIError{Status: er.Status, Message: er.Error}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = "request failed with no message"
	}
	return &APIError{Message: msg}
}

// UnixCaller calls the admin API directly on its unix socket.
type UnixCaller struct {
	Socket string
}

// maxAdminResponse guards the CLI against a runaway answer.
const maxAdminResponse = 16 << 20

// Call implements Caller.
func (u UnixCaller) Call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", u.Socket)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://berth-proxy"+path, rd)
	if err != nil {
		return nil, fmt.Errorf("berth-proxy admin %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("berth-proxy admin %s %s: %w (is berth-proxy running with its admin socket at %s?)", method, path, err, u.Socket)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminResponse))
	if err != nil {
		return nil, fmt.Errorf("berth-proxy admin %s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		err := ParseAPIError(data)
		if ae, ok := err.(*APIError); ok && ae.Status == 0 {
			ae.Status = resp.StatusCode
		}
		return data, err
	}
	return data, nil
}

// AdminCall performs one admin request over the unix socket and copies the
// response body to out, also when the server answers with an error: across
// `docker exec` the body is the only way the error's details travel. The
// returned error carries the server's message.
func AdminCall(ctx context.Context, socket, method, path string, body []byte, out io.Writer) error {
	data, err := UnixCaller{Socket: socket}.Call(ctx, method, path, body)
	if len(data) > 0 {
		if _, werr := out.Write(data); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// Client is the typed admin API client used by the deployer.
type Client struct {
	Caller Caller
}

// NewClient returns a Client that sends its requests through c.
func NewClient(c Caller) *Client { return &Client{Caller: c} }

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("berth-proxy admin %s %s: encoding request: %w", method, path, err)
		}
	}
	data, err := c.Caller.Call(ctx, method, path, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("berth-proxy admin %s %s: decoding response: %w", method, path, err)
	}
	return nil
}

// Healthz returns nil when the proxy answers its admin API.
func (c *Client) Healthz(ctx context.Context) error {
	var out struct {
		OK bool `json:"ok"`
	}
	if err := c.call(ctx, http.MethodGet, "/healthz", nil, &out); err != nil {
		return err
	}
	if !out.OK {
		return errors.New("berth-proxy: healthz did not report ok")
	}
	return nil
}

// Routes returns the proxy's routes sorted by key, with in-flight counts.
// Targets is filled in also from a proxy older than replicas, which reports
// Target only.
func (c *Client) Routes(ctx context.Context) ([]Route, error) {
	var out routesResponse
	if err := c.call(ctx, http.MethodGet, "/routes", nil, &out); err != nil {
		return nil, err
	}
	for i := range out.Routes {
		out.Routes[i].Targets = out.Routes[i].TargetList()
	}
	return out.Routes, nil
}

// SetRoute creates or switches a route and returns the target it replaced
// (the first, when it had several). When it returns nil the switch is
// persisted and live.
func (c *Client) SetRoute(ctx context.Context, r Route) (previous string, err error) {
	prev, err := c.SwitchRoute(ctx, r)
	if len(prev) > 0 {
		previous = prev[0]
	}
	return previous, err
}

// SwitchRoute creates or switches a route, all its targets at once, and
// returns every target it replaced. A route of one target is sent in the
// single-target form, which a proxy from before replicas understands too.
func (c *Client) SwitchRoute(ctx context.Context, r Route) (previous []string, err error) {
	if targets := r.TargetList(); len(targets) == 1 {
		r.Target, r.Targets = targets[0], nil
	} else if len(targets) > 1 {
		r.Target = targets[0]
	}
	var out setRouteResponse
	if err := c.call(ctx, http.MethodPut, "/routes", r, &out); err != nil {
		if len(r.Targets) > 1 && strings.Contains(err.Error(), `unknown field "targets"`) {
			// The only sign an old proxy gives: it rejects the field.
			return nil, fmt.Errorf("%w (berth-proxy on this host predates replicas and routes to one target only; fix: replace it with `docker rm -f berth-proxy` and deploy again: its routes are kept in its state volume, and the apps it serves pause for about a second)", err)
		}
		return nil, err
	}
	if len(out.PreviousTargets) == 0 && out.Previous != "" {
		out.PreviousTargets = []string{out.Previous}
	}
	return out.PreviousTargets, nil
}

// DeleteRoute removes a route; errors.Is(err, ErrNoRoute) if it did not exist.
func (c *Client) DeleteRoute(ctx context.Context, key string) error {
	return c.call(ctx, http.MethodDelete, "/routes?key="+url.QueryEscape(key), nil, nil)
}

// Check health-checks a target from inside the proxy's network. An unhealthy
// target is a result, not an error.
func (c *Client) Check(ctx context.Context, req CheckRequest) (CheckResult, error) {
	var out CheckResult
	err := c.call(ctx, http.MethodPost, "/check", req, &out)
	return out, err
}

// Drain waits up to timeout for the requests on target to finish, then cancels
// the rest.
func (c *Client) Drain(ctx context.Context, target string, timeout time.Duration) (DrainResult, error) {
	var out DrainResult
	err := c.call(ctx, http.MethodPost, "/drain", DrainRequest{Target: target, TimeoutMS: timeout.Milliseconds()}, &out)
	return out, err
}

// DrainTargets drains several targets together within one timeout: it
// returns once every one of them has no request in flight, or at the
// timeout, having cancelled what remained on each.
func (c *Client) DrainTargets(ctx context.Context, targets []string, timeout time.Duration) (DrainResult, error) {
	if len(targets) == 1 {
		return c.Drain(ctx, targets[0], timeout)
	}
	var out DrainResult
	err := c.call(ctx, http.MethodPost, "/drain", DrainRequest{Targets: targets, TimeoutMS: timeout.Milliseconds()}, &out)
	return out, err
}
