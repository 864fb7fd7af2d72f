//go:build linux

package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// getEnv makes the test binary, instead of testing, GET the URL it holds
// and print the body: run under nsenter, that is a client inside a host.
const getEnv = "BERTH_TESTENV_GET"

func TestMain(m *testing.M) {
	if url := os.Getenv(getEnv); url != "" {
		hc := &http.Client{Timeout: 5 * time.Second}
		resp, err := hc.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer resp.Body.Close()
		if _, err := io.Copy(os.Stdout, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, resp.Status, err)
			os.Exit(1)
		}
		return
	}
	m.Run()
}

// TestExtraEngines starts two "hosts", serves the test app from each on a
// published port, and checks what multi-host tests rely on: the test
// reaches both, the hosts reach each other, Restart applies new flags, and
// cleanup leaves nothing behind, least of all a main engine without docker0.
func TestExtraEngines(t *testing.T) {
	hadDocker0 := exec.Command("ip", "link", "show", "docker0").Run() == nil
	var engines []*testenv.ExtraEngine
	// Registered before the engines: runs after their cleanup.
	t.Cleanup(func() {
		if hadDocker0 {
			if out, err := exec.Command("ip", "link", "show", "docker0").CombinedOutput(); err != nil {
				t.Errorf("the main engine's docker0 is gone after the extra engines: %v: %s", err, out)
			}
		}
		for _, e := range engines {
			if _, err := os.Stat(e.Dir); !os.IsNotExist(err) {
				t.Errorf("engine %s: %s left behind (stat: %v)", e.Name, e.Dir, err)
			}
			if _, err := os.Stat("/run/netns/" + e.Name); !os.IsNotExist(err) {
				t.Errorf("engine %s: network namespace left behind (stat: %v)", e.Name, err)
			}
			if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), e.Dir+"/") || strings.Contains(string(mounts), e.Dir+" ") {
				t.Errorf("engine %s: mounts under %s left behind", e.Name, e.Dir)
			}
		}
		if len(engines) > 0 && hasAddr(engines[0].BridgeIP) {
			t.Errorf("the root namespace still has the bridge address %s", engines[0].BridgeIP)
		}
	})

	engines = testenv.StartEngines(t, 2, testenv.ExtraEngineOptions{})
	a, b := engines[0], engines[1]
	if a.Addr == b.Addr || a.BridgeIP != b.BridgeIP {
		t.Fatalf("engines share a bridge but got addresses %s, %s and bridge IPs %s, %s", a.Addr, b.Addr, a.BridgeIP, b.BridgeIP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, e := range engines {
		c := e.Client(t)
		if c.ServerVersion == "" {
			t.Errorf("engine %s: no server version from %s", e.Name, e.Host)
		}
		ref := "berth-test/app:" + e.Name
		testenv.AppImage(t, c, ref, "VERSION="+e.Name)
		if out, err := e.Docker(ctx, "run", "-d", "--name", "app1", "-p", "18080:8080", ref); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}

	// From the root namespace, through each host's published port.
	for _, e := range engines {
		if got := appVersion(t, http.DefaultTransport, e.Addr+":18080"); got != e.Name {
			t.Errorf("GET http://%s:18080/ from the root namespace: version %q, want %q", e.Addr, got, e.Name)
		}
	}
	// Host to host: a's namespace reaches b's published port.
	if body, err := getFromNetns(ctx, "/run/netns/"+a.Name, "http://"+b.Addr+":18080/"); err != nil {
		t.Error(err)
	} else if want := `"version":"` + b.Name + `"`; !strings.Contains(body, want) {
		t.Errorf("GET http://%s:18080/ from %s: %q, want it to hold %s", b.Addr, a.Name, body, want)
	}

	b.Restart(t, []string{"--label", "berth.test=restarted"})
	out, err := b.Docker(ctx, "info", "--format", "{{.Labels}}")
	if err != nil || !strings.Contains(out, "berth.test=restarted") {
		t.Errorf("after Restart with a new label, docker info shows labels %q (err %v)", out, err)
	}
	if n := strings.Count(b.Log(), "API listen on "+b.Socket); n != 2 {
		t.Errorf("engine %s log shows %d starts, want 2:\n%s", b.Name, n, b.Log())
	}
}

// appVersion GETs the test app at addr, retrying while it starts.
func appVersion(t *testing.T, tr http.RoundTripper, addr string) string {
	t.Helper()
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var resp *http.Response
		resp, err = hc.Get("http://" + addr + "/")
		if err != nil {
			continue
		}
		var body struct{ Version string }
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err = json.Unmarshal(b, &body); err == nil {
			return body.Version
		}
		err = fmt.Errorf("status %s, body %q: %w", resp.Status, b, err)
	}
	t.Errorf("GET http://%s/: %v", addr, err)
	return ""
}

// getFromNetns runs this test binary in the network namespace at nsPath
// to GET url there (see TestMain), and returns the body.
func getFromNetns(ctx context.Context, nsPath, url string) (string, error) {
	cmd := exec.CommandContext(ctx, "nsenter", "--net="+nsPath, os.Args[0])
	cmd.Env = append(os.Environ(), getEnv+"="+url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("GET %s from %s: %w: %s", url, nsPath, err, out)
	}
	return string(out), nil
}

func hasAddr(ip string) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == ip {
			return true
		}
	}
	return false
}
