package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthhq/berth/internal/config"
	"github.com/berthhq/berth/internal/engine"
)

// applyFiles gives the container its configs and secrets. A file: source
// is bind-mounted read-only, as docker compose does; a value from the
// environment or content:, or a file whose uid, gid or mode must change,
// is copied into the container before it starts (engine.File), so the
// value never lands in a label, a log line or a file berth leaves on the
// host. Errors name the config or secret, never its value.
func applyFiles(cfg *config.Config, svc *config.Service, spec *engine.ContainerSpec) error {
	for _, r := range svc.Compose.Configs {
		def, ok := cfg.Project.Configs[r.Source]
		if !ok {
			return fmt.Errorf("service %s: config %q is not declared under top-level configs: in %s (fix: add it there with file:, content: or environment:)", svc.Name, r.Source, cfg.ComposeFile)
		}
		target := r.Target
		if target == "" {
			target = "/" + r.Source
		} else if !path.IsAbs(target) {
			target = "/" + target
		}
		if err := addFile(cfg, spec, "config", types.FileObjectConfig(def), types.FileReferenceConfig(r), target); err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
	}
	for _, r := range svc.Compose.Secrets {
		def, ok := cfg.Project.Secrets[r.Source]
		if !ok {
			return fmt.Errorf("service %s: secret %q is not declared under top-level secrets: in %s (fix: add it there with file: or environment:)", svc.Name, r.Source, cfg.ComposeFile)
		}
		target := r.Target
		if target == "" {
			target = r.Source
		}
		if !path.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		if err := addFile(cfg, spec, "secret", types.FileObjectConfig(def), types.FileReferenceConfig(r), target); err != nil {
			return fmt.Errorf("service %s: %w", svc.Name, err)
		}
	}
	return nil
}

func addFile(cfg *config.Config, spec *engine.ContainerSpec, kind string, def types.FileObjectConfig, ref types.FileReferenceConfig, target string) error {
	owned := ref.UID != "" || ref.GID != "" || ref.Mode != nil
	var data []byte
	switch {
	case def.File != "" && !owned:
		spec.Mounts = append(spec.Mounts, engine.Mount{Type: "bind", Source: def.File, Target: target, ReadOnly: true, NoCreate: true})
		return nil
	case def.File != "":
		b, err := os.ReadFile(def.File)
		if err != nil {
			return fmt.Errorf("%s %q: reading its file: %w (fix: create the file, or point file: at it)", kind, ref.Source, err)
		}
		data = b
	case def.Environment != "":
		v, ok := cfg.Project.Environment[def.Environment]
		if !ok {
			return fmt.Errorf("%s %q: variable %s is not set (fix: set it in the environment or .env)", kind, ref.Source, def.Environment)
		}
		data = []byte(v)
	case def.Content != "":
		data = []byte(def.Content)
	default:
		return fmt.Errorf("%s %q has no source (fix: give it file:, environment: or content:)", kind, ref.Source)
	}
	f := engine.File{Path: target, Mode: 0o444, Data: data}
	if ref.Mode != nil {
		f.Mode = int64(*ref.Mode)
	}
	var err error
	if f.UID, err = id(ref.UID); err != nil {
		return fmt.Errorf("%s %q: uid %q is not a number (fix: use a numeric uid)", kind, ref.Source, ref.UID)
	}
	if f.GID, err = id(ref.GID); err != nil {
		return fmt.Errorf("%s %q: gid %q is not a number (fix: use a numeric gid)", kind, ref.Source, ref.GID)
	}
	sum := sha256.Sum256(data)
	f.Digest = hex.EncodeToString(sum[:])
	spec.Files = append(spec.Files, f)
	return nil
}

func id(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}
