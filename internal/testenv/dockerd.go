//go:build linux

package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/engine"
)

// Extra engines stand in for the other hosts of multi-host tests. Each runs
// in a network namespace of its own ("bt-<id>-<n>", reached at
// 10.213.X.<n+1>), plugged into a bridge that lives in one more namespace
// ("bt-<id>"), which the root namespace joins through the veth "bt-<id>".
//
// The bridge is not in the root namespace because there br_netfilter hands
// bridged frames to the main engine's FORWARD chain, whose policy is DROP:
// the hosts could not reach each other.
//
// dockerd must be started with nsenter --net rather than ip netns exec,
// which remounts /sys and hides the cgroup mounts; and never in the root
// namespace, where it deletes the main engine's docker0.
const (
	namePrefix       = "bt-"
	hostSubnetPrefix = "10.213." // .X.0/24 per bridge, X free in the root namespace
	engineStart      = 60 * time.Second
	engineStop       = 20 * time.Second
	logTailLines     = 40
)

// ExtraEngineOptions configure StartEngine.
type ExtraEngineOptions struct {
	Args []string // extra dockerd flags, e.g. "--authorization-plugin=berth-it-x"
	Env  []string // extra environment for dockerd
}

// ExtraEngine is a dockerd of the test's own, in its own network namespace.
type ExtraEngine struct {
	Name     string // netns name
	Dir      string // temp dir holding data-root, exec-root, socket, logs
	Socket   string // path of the unix socket
	Host     string // "unix://" + Socket, for DOCKER_HOST / engine.Endpoint.URL
	Addr     string // the namespace's IP address on the test bridge, e.g. "10.213.0.2"
	BridgeIP string // the root namespace's address on the bridge

	net  *testNet
	n    int // number on the bridge, from 1
	args []string
	env  []string

	mu       sync.Mutex
	proc     *dockerd
	logShown bool // its log tail is in the test's output already
}

type dockerd struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// StartEngine starts one extra engine on a bridge of its own. It skips
// under -short, and when not root or dockerd, ip or nsenter are missing,
// unless BERTH_TEST_DOCKER=1, where that fails the test. The engine is
// stopped and every trace of it removed when the test ends.
func StartEngine(t testing.TB, opt ExtraEngineOptions) *ExtraEngine {
	t.Helper()
	return StartEngines(t, 1, opt)[0]
}

// StartEngines starts n engines on one shared bridge, returning them in
// order; engine i is at 10.213.X.(i+2).
func StartEngines(t testing.TB, n int, opt ExtraEngineOptions) []*ExtraEngine {
	t.Helper()
	if n < 1 || n > 250 {
		t.Fatalf("StartEngines: %d engines; a test bridge holds 1 to 250", n)
	}
	requireEngineHost(t)
	tn, err := newTestNet()
	if err != nil {
		t.Fatalf("creating the test bridge: %v", err)
	}
	// Registered first so that it runs after the engines are gone.
	t.Cleanup(func() {
		if err := tn.remove(); err != nil {
			t.Errorf("removing test bridge %s: %v", tn.name(), err)
		}
	})
	engines := make([]*ExtraEngine, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range engines {
		e := &ExtraEngine{
			Name:     fmt.Sprintf("%s-%d", tn.name(), i+1),
			Addr:     tn.hostIP(i + 1),
			BridgeIP: tn.hostIP(0),
			net:      tn,
			n:        i + 1,
			args:     slices.Clone(opt.Args),
			env:      slices.Clone(opt.Env),
		}
		engines[i] = e
		wg.Go(func() { errs[i] = e.setup() })
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, e := range engines {
			if t.Failed() && !e.logShown {
				t.Logf("dockerd %s, last %d log lines:\n%s", e.Name, logTailLines, e.logTail())
			}
			wg.Go(func() {
				if err := e.teardown(); err != nil {
					t.Errorf("engine %s: %v", e.Name, err)
				}
			})
		}
		wg.Wait()
	})
	var failed []string
	for i, err := range errs {
		if e := engines[i]; err != nil {
			e.logShown = true
			failed = append(failed, fmt.Sprintf("starting extra engine %s: %v\nlast %d lines of %s:\n%s",
				e.Name, err, logTailLines, e.logPath(), e.logTail()))
		}
	}
	if len(failed) > 0 {
		t.Fatal(strings.Join(failed, "\n"))
	}
	return engines
}

// requireEngineHost skips, or fails under BERTH_TEST_DOCKER=1, when this
// machine cannot run extra engines.
func requireEngineHost(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs to start Docker engines; skipped with -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"dockerd", "ip", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("BERTH_TEST_DOCKER") == "1" {
		t.Fatalf("BERTH_TEST_DOCKER=1 but extra Docker engines need %s", strings.Join(missing, ", "))
	}
	t.Skipf("extra Docker engines need %s (set BERTH_TEST_DOCKER=1 to fail instead)", strings.Join(missing, ", "))
}

// Client connects berth's engine client to e; it is closed on cleanup.
func (e *ExtraEngine) Client(t testing.TB) *engine.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := engine.Connect(ctx, engine.Endpoint{Host: e.Name, URL: e.Host})
	if err != nil {
		t.Fatalf("connecting to extra engine: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Docker runs the docker CLI against e and returns its combined output.
func (e *ExtraEngine) Docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	// DOCKER_HOST alone decides, whatever context or TLS the caller has set.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "DOCKER_CONTEXT" || k == "DOCKER_TLS_VERIFY" || k == "DOCKER_CERT_PATH" || k == "DOCKER_HOST"
	})
	cmd.Env = append(cmd.Env, "DOCKER_HOST="+e.Host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s on engine %s: %w", strings.Join(args, " "), e.Name, err)
	}
	return string(out), nil
}

// Restart stops dockerd and starts it again, with its extra flags replaced
// by newArgs if non-nil, and waits until it answers. Containers without a
// restart policy are left stopped, as after a reboot.
func (e *ExtraEngine) Restart(t testing.TB, newArgs []string) {
	t.Helper()
	if err := e.stop(); err != nil {
		t.Fatalf("restarting engine %s: %v", e.Name, err)
	}
	if newArgs != nil {
		e.args = slices.Clone(newArgs)
	}
	if err := e.launch(); err != nil {
		t.Fatalf("restarting engine %s: %v\nlast %d lines of %s:\n%s", e.Name, err, logTailLines, e.logPath(), e.logTail())
	}
}

// Log returns dockerd's log so far.
func (e *ExtraEngine) Log() string {
	if e.Dir == "" {
		return ""
	}
	b, _ := os.ReadFile(e.logPath())
	return string(b)
}

func (e *ExtraEngine) logPath() string { return filepath.Join(e.Dir, "dockerd.log") }

func (e *ExtraEngine) logTail() string {
	lines := strings.Split(strings.TrimRight(e.Log(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-logTailLines):], "\n")
}

// setup makes the directory and the namespace, then starts dockerd. What it
// made before failing is left for teardown.
func (e *ExtraEngine) setup() error {
	dir, err := os.MkdirTemp("", "bde-")
	if err != nil {
		return err
	}
	// Unix socket paths end at 108 bytes; containerd's sits deepest.
	if len(dir+"/exec/containerd/containerd.sock.ttrpc") > 100 {
		os.Remove(dir)
		if dir, err = os.MkdirTemp("/tmp", "bde-"); err != nil {
			return err
		}
	}
	e.Dir = dir
	e.Socket = filepath.Join(dir, "docker.sock")
	e.Host = "unix://" + e.Socket
	// Without a config file of its own dockerd reads /etc/docker/daemon.json,
	// which belongs to the main engine: a data-root there even conflicts
	// with the flag.
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return err
	}
	veth := "h" + strconv.Itoa(e.n) // in the bridge's namespace: no clash with the root's names
	for _, args := range [][]string{
		{"netns", "add", e.Name},
		{"-n", e.net.name(), "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", e.Name},
		{"-n", e.net.name(), "link", "set", veth, "master", "br0", "up"},
		{"-n", e.Name, "addr", "add", e.Addr + "/24", "dev", "eth0"},
		{"-n", e.Name, "link", "set", "eth0", "up"},
		{"-n", e.Name, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return e.launch()
}

func (e *ExtraEngine) flags() []string {
	f := []string{
		"--config-file", filepath.Join(e.Dir, "daemon.json"),
		"--data-root", filepath.Join(e.Dir, "data"),
		"--exec-root", filepath.Join(e.Dir, "exec"),
		"--pidfile", filepath.Join(e.Dir, "docker.pid"),
		"-H", e.Host,
		// Its own namespace already keeps docker0 apart from the main
		// engine's; distinct subnets per host keep addresses in logs unambiguous.
		"--bip", fmt.Sprintf("10.214.%d.1/24", e.n),
		"--default-address-pool", "base=10.215.0.0/16,size=24",
	}
	return append(f, e.args...)
}

// launch starts dockerd and waits until it answers /_ping.
func (e *ExtraEngine) launch() error {
	logf, err := os.OpenFile(e.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + e.Name, "dockerd"}, e.flags()...)...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// nsenter execs dockerd, so dockerd itself gets SIGTERM if the test
	// binary dies, and shuts down unmounting what it mounted. (Strictly,
	// when the thread that started it ends; Go ends threads only for
	// goroutines that exit locked to theirs.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	p := &dockerd{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	e.mu.Lock()
	e.proc = p
	e.mu.Unlock()

	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", e.Socket)
		},
	}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(engineStart)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("dockerd exited: %v", cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := hc.Get("http://docker/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	e.stop()
	return fmt.Errorf("dockerd did not answer on %s within %s", e.Socket, engineStart)
}

// stop sends SIGTERM and waits; past engineStop it kills dockerd.
func (e *ExtraEngine) stop() error {
	e.mu.Lock()
	p := e.proc
	e.proc = nil
	e.mu.Unlock()
	if p == nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(engineStop):
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("dockerd did not stop within %s of SIGTERM and was killed", engineStop)
}

// teardown undoes setup, whatever part of it happened. A dockerd that had
// to be killed leaves containerd, shims, containers and mounts behind:
// they are found by e.Dir, which no one else uses.
func (e *ExtraEngine) teardown() error {
	var errs []error
	if err := e.stop(); err != nil {
		errs = append(errs, err)
	}
	if e.Dir != "" {
		killUsersOf(e.Dir)
		if err := unmountUnder(e.Dir); err != nil {
			errs = append(errs, err)
		} else if err := os.RemoveAll(e.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if exists("/run/netns/" + e.Name) {
		if err := ip("netns", "del", e.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w (fix: stop what runs under %s, umount under it, rm -rf it, ip netns del %s)", err, e.Dir, e.Name)
	}
	return nil
}

// killUsersOf kills the processes that name dir on their command line
// (containerd, shims) or whose root filesystem lies under it (containers),
// and removes the sockets of the shims among them.
func killUsersOf(dir string) {
	self, _ := os.Readlink("/proc/self/ns/mnt")
	ents, _ := os.ReadDir("/proc")
	var killed []int
	var sockets []string
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		ours := bytes.Contains(cmdline, []byte(dir+"/"))
		if mnt, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); !ours && mnt != "" && mnt != self {
			ours = rootMountUnder(pid, dir)
		}
		if ours && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, pid)
			if s := shimSocket(strings.Split(string(cmdline), "\x00")); s != "" {
				sockets = append(sockets, s)
			}
		}
	}
	for _, pid := range killed {
		for range 50 {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, s := range sockets {
		os.Remove(s)
	}
}

// shimSocket is where a containerd-shim-runc-v2 with these arguments
// listens: a socket under /run/containerd/s named by a hash, which only
// the shim removes, on a clean exit.
func shimSocket(argv []string) string {
	flags := map[string]string{}
	for i := 0; i+1 < len(argv); i++ {
		if strings.HasPrefix(argv[i], "-") {
			flags[argv[i]] = argv[i+1]
		}
	}
	addr, ns, id := flags["-address"], flags["-namespace"], flags["-id"]
	if len(argv) == 0 || !strings.HasPrefix(filepath.Base(argv[0]), "containerd-shim") || addr == "" || ns == "" || id == "" {
		return ""
	}
	return fmt.Sprintf("/run/containerd/s/%x", sha256.Sum256([]byte(filepath.Join(addr, ns, id))))
}

// rootMountUnder says whether pid's "/" is a mount made from files under dir.
func rootMountUnder(pid int, dir string) bool {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == "/" {
			return strings.Contains(sc.Text(), dir+"/")
		}
	}
	return false
}

// unmountUnder unmounts, deepest first, everything mounted at or below dir.
func unmountUnder(dir string) error {
	for range 5 {
		mounts, err := mountsUnder(dir)
		if err != nil || len(mounts) == 0 {
			return err
		}
		slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
		for _, m := range mounts {
			if syscall.Unmount(m, 0) != nil {
				syscall.Unmount(m, syscall.MNT_DETACH)
			}
		}
	}
	mounts, err := mountsUnder(dir)
	if err == nil && len(mounts) > 0 {
		err = fmt.Errorf("still mounted: %s", strings.Join(mounts, ", "))
	}
	return err
}

func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		// Spaces and the like are octal-escaped; temp dirs have none.
		if m := fields[4]; m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	return out, nil
}

// testNet is a bridge in a namespace of its own, joined to the root
// namespace through a veth of the same name.
type testNet struct {
	id     string
	subnet int // X in 10.213.X.0/24
}

func (n *testNet) name() string { return namePrefix + n.id }

func (n *testNet) hostIP(i int) string {
	return fmt.Sprintf("%s%d.%d", hostSubnetPrefix, n.subnet, i+1)
}

func newTestNet() (*testNet, error) {
	// Test binaries of several packages run at once: names and subnet are
	// chosen and taken under a lock, on a directory so as to leave no file
	// behind. Not /run/netns: ip netns add locks that one itself.
	unlock, err := lockDir("/tmp")
	if err != nil {
		return nil, err
	}
	defer unlock()
	n := &testNet{}
	for range 10 {
		// Leftovers of crashed runs are not ours to clean: avoid their names.
		n.id = randomHex(3)
		if _, err := net.InterfaceByName(n.name()); err == nil {
			continue
		}
		if m, _ := filepath.Glob("/run/netns/" + n.name() + "*"); len(m) > 0 {
			continue
		}
		if n.subnet, err = freeSubnet(); err != nil {
			return nil, err
		}
		for _, args := range [][]string{
			{"netns", "add", n.name()},
			{"-n", n.name(), "link", "set", "lo", "up"},
			{"-n", n.name(), "link", "add", "br0", "type", "bridge"},
			{"-n", n.name(), "link", "set", "br0", "up"},
			{"link", "add", n.name(), "type", "veth", "peer", "name", "root", "netns", n.name()},
			{"-n", n.name(), "link", "set", "root", "master", "br0", "up"},
			{"addr", "add", n.hostIP(0) + "/24", "dev", n.name()},
			{"link", "set", n.name(), "up"},
		} {
			if err := ip(args...); err != nil {
				return nil, errors.Join(err, n.remove())
			}
		}
		return n, nil
	}
	return nil, errors.New("no free name for the test bridge after 10 tries")
}

// freeSubnet picks X such that no address of the root namespace is in
// 10.213.X.0/24.
func freeSubnet() (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, err
	}
	used := map[int]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if v4 := ipn.IP.To4(); v4 != nil && v4[0] == 10 && v4[1] == 213 {
				used[int(v4[2])] = true
			}
		}
	}
	start := int(randomByte())
	for i := range 256 {
		if x := (start + i) % 256; !used[x] {
			return x, nil
		}
	}
	return 0, errors.New("every 10.213.X.0/24 is in use in the root network namespace")
}

// remove deletes the root's veth (and so its peer) and the bridge's
// namespace; the engines' veths go with their own namespaces.
func (n *testNet) remove() error {
	var errs []error
	if _, err := net.InterfaceByName(n.name()); err == nil {
		errs = append(errs, ip("link", "del", n.name()))
	}
	if exists("/run/netns/" + n.name()) {
		errs = append(errs, ip("netns", "del", n.name()))
	}
	return errors.Join(errs...)
}

func ip(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("locking %s (flock): %w", dir, err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomByte() byte {
	var b [1]byte
	rand.Read(b[:])
	return b[0]
}
