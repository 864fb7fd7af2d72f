package engine

import (
	"bytes"
	"context"
	"fmt"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// ExecResult is the outcome of a command run inside a container.
type ExecResult struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Exec runs cmd inside a running container and waits for it to finish.
func (c *Client) Exec(ctx context.Context, id string, cmd []string) (ExecResult, error) {
	created, err := c.api.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return ExecResult{}, fmt.Errorf("host %s: exec in %s: %w", c.Host(), short(id), err)
	}
	att, err := c.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("host %s: exec in %s: %w", c.Host(), short(id), err)
	}
	defer att.Close()
	// The hijacked connection does not watch ctx; closing it does.
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, att.Reader); err != nil {
		if ctx.Err() != nil {
			return ExecResult{}, ctx.Err()
		}
		return ExecResult{}, fmt.Errorf("host %s: exec in %s: reading output: %w", c.Host(), short(id), err)
	}
	insp, err := c.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("host %s: exec in %s: %w", c.Host(), short(id), err)
	}
	return ExecResult{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: insp.ExitCode}, nil
}
