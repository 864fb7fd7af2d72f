package deploy

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/berthhq/berth/internal/engine"
	"github.com/berthhq/berth/internal/version"
)

// SelfImageRepo is the repository of the image berth builds of itself.
const SelfImageRepo = "berth"

// selfExe is berth's own executable, read once: the bytes that go into the
// image and the digest that names it.
var selfExe = sync.OnceValues(func() (exe, error) {
	path, err := os.Executable()
	if err != nil {
		return exe{}, fmt.Errorf("finding berth's own executable: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return exe{}, fmt.Errorf("reading berth's own executable: %w", err)
	}
	if err := checkStatic(path); err != nil {
		return exe{}, err
	}
	sum := sha256.Sum256(data)
	return exe{path: path, data: data, digest: hex.EncodeToString(sum[:])}, nil
})

type exe struct {
	path   string
	data   []byte
	digest string
}

// checkStatic refuses an executable that needs a dynamic loader: the image
// is FROM scratch and such a binary would fail there with a cryptic "no such
// file or directory".
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("berth's executable %s is not a Linux ELF binary, so it cannot run in berth's image: %w (fix: use a linux build of berth)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("berth's executable %s is dynamically linked and cannot run in its FROM scratch image (fix: build it with CGO_ENABLED=0)", path)
		}
	}
	return nil
}

// SelfImageRef is the tag of berth's image for this executable. The digest
// in the tag means a rebuilt berth never runs a stale proxy.
func SelfImageRef() (string, error) {
	e, err := selfExe()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s:%s-%s", SelfImageRepo, version.Version, e.digest[:12]), nil
}

// imageEngine is what building berth's image needs.
type imageEngine interface {
	InspectImage(ctx context.Context, ref string) (engine.ImageInfo, error)
	ImportImage(ctx context.Context, ref string, files []engine.ImageFile, changes []string) error
	Host() string
}

// EnsureSelfImage imports berth's image on the host unless it is there:
// FROM scratch plus this executable, no builder and no registry involved.
func EnsureSelfImage(ctx context.Context, eng imageEngine) (string, error) {
	ref, err := SelfImageRef()
	if err != nil {
		return "", err
	}
	if _, err := eng.InspectImage(ctx, ref); err == nil {
		return ref, nil
	} else if !engine.IsNotFound(err) {
		return "", err
	}
	e, _ := selfExe()
	if a, ok := eng.(interface{ EngineArch() string }); ok && a.EngineArch() != "" && a.EngineArch() != runtime.GOARCH {
		return "", fmt.Errorf("host %s: the engine runs on %s but this berth is built for %s, so berth-proxy could not run there (fix: run a berth built with GOARCH=%s)", eng.Host(), a.EngineArch(), runtime.GOARCH, a.EngineArch())
	}
	changes := []string{
		`ENTRYPOINT ["/berth"]`,
		`LABEL berth.managed=true berth.role=image berth.version=` + version.Version,
	}
	if err := eng.ImportImage(ctx, ref, []engine.ImageFile{{Path: "berth", Mode: 0o755, Data: e.data}}, changes); err != nil {
		return "", err
	}
	return ref, nil
}
