package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthhq/berth/internal/testenv"
)

// TestPorts deploys a routed service that also serves TCP and UDP echo on
// published ports, and a database-like accessory published on loopback,
// then redeploys the service while a client opens TCP connections without
// pause: no connection attempt fails, new connections reach the new release
// after the deploy, UDP works before and after, the forwarder outlives the
// releases, a rollback switches it back, status shows it and remove takes
// it away.
func TestPorts(t *testing.T) {
	tcpPort, udpPort, dbPort, gamePort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	extraBerth := `  db:
    accessory: true
    deploy: { min_ready: 1s }
  game:
    deploy: { min_ready: 1s }
`
	extraCompose := fmt.Sprintf(`    environment:
      ECHO_PORT: "7000"
    ports:
      - "127.0.0.1:%d:7000"
      - target: 7000
        published: "%d"
        host_ip: 127.0.0.1
        protocol: udp
    expose: ["9000-9001"]
  db:
    image: berth-testapp:v1
    environment:
      VERSION: db
    ports: ["127.0.0.1:%d:8080"]
  game:
    image: berth-testapp:v1
    command: ["worker"]
    scale: 2
    environment:
      ECHO_PORT: "7000"
    ports: ["127.0.0.1:%d:7000"]
`, tcpPort, udpPort, dbPort, gamePort)
	a := newApp(t, extraBerth, extraCompose)
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	testenv.AppImage(t, a.eng, "berth-testapp:v2", "VERSION=v2")
	fwd := a.name + "-web-ports"

	a.mustRun("deploy")
	a.waitServing("v1", 10*time.Second)

	// The accessory publishes its port as written.
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", dbPort))
	if err != nil {
		t.Fatalf("the accessory's published port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the accessory's published port answered %d", resp.StatusCode)
	}
	tcpAddr, udpAddr := fmt.Sprintf("127.0.0.1:%d", tcpPort), fmt.Sprintf("127.0.0.1:%d", udpPort)
	if got, err := echoTCP(tcpAddr, "hi"); err != nil || got != "v1 hi" {
		t.Fatalf("TCP through the forwarder: %q %v", got, err)
	}
	// A worker's ports go through its own forwarder.
	gameAddr := fmt.Sprintf("127.0.0.1:%d", gamePort)
	if got, err := echoTCP(gameAddr, "g"); err != nil || got != "v1 g" {
		t.Fatalf("a worker's TCP port: %q %v", got, err)
	}
	udpOld, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer udpOld.Close()
	if got := echoUDP(t, udpOld, "u1"); got != "v1 u1" {
		t.Fatalf("UDP through the forwarder: %q", got)
	}
	exposed := inspectField(t, a.name+"-web-1", "{{json .Config.ExposedPorts}}")
	for _, p := range []string{"7000/tcp", "7000/udp", "9000/tcp", "9001/tcp"} {
		if !strings.Contains(exposed, p) {
			t.Errorf("release 1 does not expose %s: %s", p, exposed)
		}
	}
	if pub := inspectField(t, a.name+"-web-1", "{{json .HostConfig.PortBindings}}"); pub != "{}" && pub != "null" {
		t.Errorf("a release publishes ports itself (the forwarder should): %s", pub)
	}
	fwdID := containerID(t, fwd)

	// Redeploy under a continuous stream of new connections.
	var attempts, failures atomic.Int64
	var mu sync.Mutex
	var failed []string
	seen := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			attempts.Add(1)
			got, err := echoTCP(tcpAddr, fmt.Sprint(i))
			v, _, _ := strings.Cut(got, " ")
			mu.Lock()
			if err != nil || !strings.HasSuffix(got, " "+fmt.Sprint(i)) {
				failures.Add(1)
				failed = append(failed, fmt.Sprintf("attempt %d: %q %v", i, got, err))
			} else {
				seen[v]++
			}
			mu.Unlock()
		}
	})
	out := a.mustRun("deploy", "--image", "web=berth-testapp:v2")
	a.waitServing("v2", 10*time.Second)
	// A few more connections after the deploy, then stop the client.
	for n := attempts.Load(); attempts.Load() < n+20; {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Errorf("%d of %d connection attempts failed during the deploy: %v", failures.Load(), attempts.Load(), failed[:min(len(failed), 5)])
	}
	if seen["v1"] == 0 || seen["v2"] == 0 {
		t.Errorf("connections during the deploy reached %v; want both v1 (before) and v2 (after)", seen)
	}
	t.Logf("%d connection attempts during the deploy, %d failed, by release %v", attempts.Load(), failures.Load(), seen)
	for i := range 5 {
		if got, err := echoTCP(tcpAddr, "after"); err != nil || got != "v2 after" {
			t.Errorf("new connection %d after the deploy: %q %v", i, got, err)
		}
	}
	if got := echoUDP(t, udpOld, "u2"); got != "v2 u2" {
		t.Errorf("a UDP client from before the deploy, after it: %q", got)
	}
	udpNew, _ := net.Dial("udp", udpAddr)
	defer udpNew.Close()
	if got := echoUDP(t, udpNew, "u3"); got != "v2 u3" {
		t.Errorf("a new UDP client after the deploy: %q", got)
	}
	if !strings.Contains(out, "web") {
		t.Logf("deploy output:\n%s", out)
	}
	if id := containerID(t, fwd); id != fwdID {
		t.Errorf("the forwarder was replaced by the deploy (%s -> %s); it must outlive releases", fwdID, id)
	}
	status := a.mustRun("status")
	if !strings.Contains(status, fwd) || !strings.Contains(status, fmt.Sprintf("127.0.0.1:%d->7000/tcp", tcpPort)) || !strings.Contains(status, a.name+"-web-2") {
		t.Errorf("status does not show the forwarder, its ports and its target:\n%s", status)
	}
	if got, err := echoTCP(gameAddr, "g2"); err != nil || got != "v1 g2" {
		t.Errorf("the unchanged worker's TCP port after the deploy: %q %v", got, err)
	}
	if !strings.Contains(status, a.name+"-game-1, "+a.name+"-game-1-r2") && !strings.Contains(status, a.name+"-game-1-r2, "+a.name+"-game-1") {
		t.Errorf("status does not show the worker's forwarder relaying to both replicas:\n%s", status)
	}
	// A restarted forwarder relays where the last deploy said (its state
	// file), not nowhere.
	if out, err := exec.Command("docker", "restart", fwd).CombinedOutput(); err != nil {
		t.Fatalf("docker restart %s: %v %s", fwd, err, out)
	}
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, err = echoTCP(tcpAddr, "restarted"); err == nil {
			break
		}
	}
	if got != "v2 restarted" {
		t.Errorf("after the forwarder restarted: %q %v", got, err)
	}
	// A rollback switches the ports back like the route.
	a.mustRun("rollback", "web", "--to", "1")
	if got, err := echoTCP(tcpAddr, "back"); err != nil || got != "v1 back" {
		t.Errorf("a new connection after the rollback: %q %v", got, err)
	}
	a.mustRun("remove", "--yes")
	if err := exec.Command("docker", "inspect", fwd).Run(); err == nil {
		t.Errorf("berth remove left the forwarder %s", fwd)
	}
}

// TestPortsTakenNamed: a host port held by a process, by a container that
// is not berth's, or claimed twice in the app is named (host, service,
// port, holder) with exit code 6 before anything is created.
func TestPortsTakenNamed(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	hp := held.Addr().(*net.TCPAddr).Port
	a := newApp(t, "", fmt.Sprintf("    ports: [\"127.0.0.1:%d:7000\"]\n", hp))
	testenv.AppImage(t, a.eng, "berth-testapp:v1", "VERSION=v1")
	a.expectFail(6, []string{"service web", fmt.Sprintf("127.0.0.1:%d->7000/tcp", hp), "a process on the host", "fix:"}, "deploy")
	assertNothingOf(t, a)

	// Claimed by two services of the app.
	dup := testenv.FreePort(t)
	a2 := newApp(t, "  worker:\n    deploy: { min_ready: 1s }\n", fmt.Sprintf("    ports: [\"127.0.0.1:%d:7000\"]\n  worker:\n    image: berth-testapp:v1\n    command: [\"worker\"]\n    ports: [\"%d:7001\"]\n", dup, dup))
	a2.expectFail(6, []string{"service worker", fmt.Sprintf("0.0.0.0:%d->7001/tcp", dup), "service web of this app"}, "deploy")
	assertNothingOf(t, a2)

	// Held by a container that is not berth's.
	foreign := testenv.FreePort(t)
	name := fmt.Sprintf("%s-foreign", a.name)
	if out, err := exec.Command("docker", "run", "-d", "--name", name, "-p", fmt.Sprintf("127.0.0.1:%d:8080", foreign), "berth-testapp:v1").CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })
	a3 := newApp(t, "", fmt.Sprintf("    ports: [\"%d:7000\"]\n", foreign))
	a3.expectFail(6, []string{"service web", fmt.Sprintf("0.0.0.0:%d->7000/tcp", foreign), "container " + name, "not berth's"}, "deploy")
	assertNothingOf(t, a3)
}

// TestPortsTakenByAnotherApp: a host port another berth app's forwarder
// publishes is named with that app and service.
func TestPortsTakenByAnotherApp(t *testing.T) {
	port := testenv.FreePort(t)
	first := newApp(t, "", fmt.Sprintf("    environment: { ECHO_PORT: \"7000\" }\n    ports: [\"127.0.0.1:%d:7000\"]\n", port))
	testenv.AppImage(t, first.eng, "berth-testapp:v1", "VERSION=v1")
	first.mustRun("deploy")
	second := newApp(t, "", fmt.Sprintf("    ports: [\"%d:7001\"]\n", port))
	// The refusal comes before berth-proxy is looked at, so the second
	// app's own proxy.http does not matter.
	second.expectFail(6, []string{"service web", fmt.Sprintf("0.0.0.0:%d->7001/tcp", port), "container " + first.name + "-web-ports (berth app " + first.name + ", service web)"}, "deploy")
	assertNothingOf(t, second)
	if got, err := echoTCP(fmt.Sprintf("127.0.0.1:%d", port), "still"); err != nil || got != "v1 still" {
		t.Errorf("the first app's port after the refused deploy: %q %v", got, err)
	}
}

// assertNothingOf checks that the app has no container on the engine.
func assertNothingOf(t *testing.T, a *app) {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=berth.app="+a.name, "--format", "{{.Names}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("a refused deploy left containers: %s", s)
	}
	if out, _ := exec.Command("docker", "ps", "-a", "--filter", "name=berth-portcheck-"+a.name, "--format", "{{.Names}}").Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("the port probe container was left: %s", out)
	}
}

// echoTCP opens a connection, sends one line and returns the answer.
func echoTCP(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(c, msg); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// echoUDP sends a datagram and returns the answer, resending a few times:
// UDP may lose a datagram, and a lost one is not what this test is about.
func echoUDP(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	buf := make([]byte, 512)
	for range 10 {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			// A late answer to an earlier resend is skipped.
			if got := string(buf[:n]); strings.HasSuffix(got, " "+msg) {
				return got
			}
		}
	}
	t.Fatalf("no UDP answer to %q", msg)
	return ""
}

func inspectField(t *testing.T, name, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
