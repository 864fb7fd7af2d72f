package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// What TestComposeKeys reads back from the engine, and how.

// blkioWeightWorks asks the engine directly whether it keeps a block IO
// weight (it needs the BFQ or CFQ scheduler and the blkio cgroup).
func blkioWeightWorks(t *testing.T) bool {
	t.Helper()
	name := fmt.Sprintf("berth-blkio-probe-%d", time.Now().UnixNano())
	out, err := exec.Command("docker", "create", "--name", name, "--blkio-weight", "300", "berth-testapp:v1").CombinedOutput()
	defer exec.Command("docker", "rm", "-f", name).Run()
	if err != nil {
		t.Fatalf("docker create: %v\n%s", err, out)
	}
	return !strings.Contains(string(out), "discarded")
}

// inspected is the part of docker inspect the test reads.
type inspected struct {
	Config struct {
		Hostname, Domainname, WorkingDir, StopSignal string
		Entrypoint, Env                              []string
		StopTimeout                                  *int
		Tty, OpenStdin                               bool
	}
	HostConfig struct {
		Ulimits []struct {
			Name       string
			Soft, Hard int64
		}
		ShmSize                     int64
		Runtime                     string
		GroupAdd, ExtraHosts, Binds []string
		DNS                         []string `json:"Dns"`
		DNSSearch                   []string `json:"DnsSearch"`
		DNSOptions                  []string `json:"DnsOptions"`
		Tmpfs                       map[string]string
		Init                        *bool
		LogConfig                   struct {
			Type   string
			Config map[string]string
		}
		RestartPolicy struct {
			Name              string
			MaximumRetryCount int
		}
		Memory, NanoCPUs, MemoryReservation, MemorySwap int64
		PidsLimit, MemorySwappiness                     *int64
		OomScoreAdj                                     int
		OomKillDisable                                  *bool
		CpusetCpus                                      string
		CPUShares                                       int64 `json:"CpuShares"`
		CPUQuota                                        int64 `json:"CpuQuota"`
		CPUPeriod                                       int64 `json:"CpuPeriod"`
		DeviceCgroupRules, VolumesFrom                  []string
		BlkioDeviceReadBps, BlkioDeviceWriteIOps        []struct {
			Path string
			Rate uint64
		}
		Mounts []struct {
			Target        string
			VolumeOptions *struct{ NoCopy bool }
		}
	}
	Mounts []struct {
		Type, Name, Source, Destination string
		RW                              bool
	}
	NetworkSettings struct {
		Networks map[string]*struct {
			Aliases   []string
			IPAddress string
		}
	}
}

func inspectContainer(t *testing.T, name string) inspected {
	t.Helper()
	var out []inspected
	if err := json.Unmarshal([]byte(dockerOut(t, "inspect", name)), &out); err != nil || len(out) != 1 {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return out[0]
}

// fileHeader reads a file's tar header out of a container (docker cp), which
// carries the mode and owner the engine gave it.
func fileHeader(t *testing.T, container, path string) *tar.Header {
	t.Helper()
	out, err := exec.Command("docker", "cp", container+":"+path, "-").Output()
	if err != nil {
		t.Fatalf("docker cp %s:%s: %v", container, path, err)
	}
	h, err := tar.NewReader(bytes.NewReader(out)).Next()
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if h == nil {
		t.Fatalf("docker cp %s:%s: empty archive", container, path)
	}
	return h
}

func docker(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// blockDevice is a disk of this host for blkio throttles, or "" (the test
// then leaves them out).
func blockDevice() string {
	for _, d := range []string{"/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda"} {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return ""
}
