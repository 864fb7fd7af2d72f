package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Validate checks a daemon.json before it is written: a strict JSON
// object, and `dockerd --validate` where the installed engine has it (23.0
// and later; 20.10 does not). It says which of the two it could run.
func Validate(ctx context.Context, data []byte) (string, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return "", fmt.Errorf("not a JSON object: %w", err)
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return "strict JSON (dockerd is not installed here, so dockerd --validate was not run)", nil
	}
	f, err := os.CreateTemp("", "daemon-*.json")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(vctx, dockerd, "--validate", "--config-file", f.Name()).CombinedOutput()
	switch {
	case err == nil:
		return "dockerd --validate", nil
	case strings.Contains(string(out), "unknown flag"):
		return "strict JSON (this dockerd has no --validate; it came with Docker 23.0)", nil
	}
	return "", fmt.Errorf("dockerd --validate: %s", strings.TrimSpace(string(out)))
}
