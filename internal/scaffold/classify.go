package scaffold

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Kind is what init guesses a service is, with the names config.Service.Kind
// uses.
type Kind string

const (
	Web       Kind = "web"       // routed through berth-proxy
	Accessory Kind = "accessory" // created once, never replaced by a deploy
	Worker    Kind = "worker"    // replaced by each deploy, no route
)

// Guess is what init thinks of one compose service, and why.
type Guess struct {
	Service string `json:"name"`
	Kind    Kind   `json:"kind"`
	// Port and Health are the route's, for Web.
	Port   int    `json:"port,omitempty"`
	Health string `json:"health,omitempty"`
	// Why says what the kind was guessed from, one reason per signal.
	Why []string `json:"why"`
	// HealthWhy says where Health came from.
	HealthWhy string `json:"health_why,omitempty"`
	// Notes are further things to review about the service.
	Notes []string `json:"notes,omitempty"`
	// Profiles are set when the service is left out by the active
	// profiles: berth.yaml gets its settings as comments.
	Profiles []string `json:"profiles,omitempty"`
}

// port is one container port compose declares, from ports: or expose:.
type port struct {
	target    int
	published string // host side, "" for expose: or an unpublished port
	udp       bool
	text      string // as shown to the user: "80:80", "expose 8080"
}

// Classify guesses what a compose service is. The order of the tests is
// the order of confidence: an image known to hold data is an accessory
// whatever it listens on, and so is a reverse proxy, which publishes its
// own ports; then anything that speaks HTTP is routed; then a writable
// named volume says the data must outlive deploys; the rest are workers.
func Classify(name string, s types.ServiceConfig) Guess {
	g := Guess{Service: name}
	img, tag := imageName(s.Image)
	ports := declaredPorts(s)
	volumes := namedVolumes(s)

	if what, ok := dataImages[img]; ok {
		g.Kind = Accessory
		g.Why = append(g.Why, fmt.Sprintf("image %s (a %s)", img, what))
		if len(volumes) > 0 {
			g.Why = append(g.Why, "named volume "+strings.Join(volumes, ", "))
		}
		if pub := published(ports); len(pub) > 0 {
			g.Notes = append(g.Notes, fmt.Sprintf("compose publishes %s on the host: keep it only if something outside the app connects to it (the app's services reach it by name)", strings.Join(pub, ", ")))
		}
		return g
	}
	if reverseProxies[img] {
		g.Kind = Accessory
		g.Why = append(g.Why, fmt.Sprintf("image %s (a reverse proxy: it publishes its own ports)", img))
		g.Notes = append(g.Notes, fmt.Sprintf("berth-proxy already routes by host name to each routed service: you may not need %s in production; if you keep it, it and berth-proxy (proxy.http, port 80 by default) cannot both publish one port", img))
		return g
	}

	sig := webSignals{ports: ports}
	for _, p := range ports {
		if !p.udp && httpPorts[p.target] {
			sig.webPorts = append(sig.webPorts, p)
		}
	}
	sig.hc, sig.hcOK = healthURL(name, s)
	sig.srvPort, sig.srvWhy, sig.srvOK = appServer(s)
	sig.img = img
	sig.image, sig.imageOK = knownWebImage(img, tag)
	if sig.imageOK && len(sig.webPorts) == 0 && !sig.hcOK && !sig.srvOK && len(s.Entrypoint) > 0 {
		g.Kind = Worker
		g.Why = append(g.Why, fmt.Sprintf("image %s serves HTTP, but this service replaces its entrypoint: a job run from the same image, replaced by each deploy, with no route", img))
		return g
	}
	if len(sig.webPorts) > 0 || sig.hcOK || sig.srvOK || sig.imageOK {
		routeGuess(&g, sig, volumes)
		return g
	}

	if len(volumes) > 0 {
		g.Kind = Accessory
		g.Why = append(g.Why, fmt.Sprintf("named volume %s: its data must outlive deploys; if the service can be replaced on every deploy, remove accessory: true", strings.Join(volumes, ", ")))
		return g
	}

	g.Kind = Worker
	g.Why = append(g.Why, "nothing in compose says it serves HTTP or keeps data: replaced by each deploy, with no route")
	var other []string
	for _, p := range ports {
		other = append(other, p.text)
	}
	if len(other) > 0 {
		g.Notes = append(g.Notes, fmt.Sprintf("it declares %s, none of them a usual HTTP port: if it serves HTTP, give it a route: with that port", strings.Join(other, ", ")))
	}
	return g
}

// webSignals are what says a service serves HTTP, and on which port.
type webSignals struct {
	ports, webPorts []port
	hc              healthcheck
	hcOK            bool
	srvPort         int
	srvWhy          string
	srvOK           bool
	img             string
	image           webImage
	imageOK         bool
}

// routeGuess fills in a route: its port, its health path and why.
func routeGuess(g *Guess, sig webSignals, volumes []string) {
	g.Kind = Web
	g.Port, g.Why = routePort(sig)
	switch {
	case sig.hcOK:
		g.Health, g.HealthWhy = sig.hc.path, "from the compose healthcheck of "+sig.hc.url
		if sig.hc.port != 0 && sig.hc.port != g.Port {
			g.Notes = append(g.Notes, fmt.Sprintf("the healthcheck uses port %d, the route port %d: berth-proxy checks %s on %d, so make sure it answers there", sig.hc.port, g.Port, sig.hc.path, g.Port))
		}
	case sig.imageOK && sig.image.health != "" && g.Port == sig.image.port:
		g.Health, g.HealthWhy = sig.image.health, fmt.Sprintf("the health endpoint of %s; berth-proxy wants a 2xx answer there before it switches traffic", sig.img)
	default:
		g.Health, g.HealthWhy = "/", "no HTTP healthcheck in compose: berth-proxy checks / and wants a 2xx answer; point it at a cheap endpoint that says the app is ready"
	}
	if sig.imageOK && len(sig.webPorts) == 0 && len(sig.ports) > 0 && !declared(sig.ports, sig.image.port) && g.Port == sig.image.port {
		var texts []string
		for _, p := range sig.ports {
			texts = append(texts, p.text)
		}
		g.Notes = append(g.Notes, fmt.Sprintf("compose declares %s, not %d, the port %s serves HTTP on by default: check the port it listens on", strings.Join(texts, ", "), sig.image.port, sig.img))
	}
	for _, p := range sig.ports {
		if p.target == g.Port && p.published != "" {
			g.Notes = append(g.Notes, fmt.Sprintf("compose publishes %s (ports:): berth-proxy serves this route on proxy.http (port 80 unless set), so remove that entry from compose", strings.TrimPrefix(p.text, "ports: ")))
		}
	}
	if len(volumes) > 0 {
		g.Notes = append(g.Notes, fmt.Sprintf("also mounts named volume %s: a deploy starts the new release beside the old one, so both use it during the switch", strings.Join(volumes, ", ")))
	}
}

func declared(ports []port, n int) bool {
	return slices.ContainsFunc(ports, func(p port) bool { return p.target == n && !p.udp })
}

// routePort picks the container port berth-proxy forwards to and says why,
// most telling signal first: the healthcheck's port (the port the author
// checks the app on) when compose declares it or declares none, then a
// declared HTTP port, the server the command starts, the image's port.
func routePort(sig webSignals) (int, []string) {
	var why []string
	chosen := 0
	if sig.hcOK && sig.hc.port != 0 && (len(sig.ports) == 0 || declared(sig.ports, sig.hc.port)) {
		chosen = sig.hc.port
	}
	for _, p := range sig.webPorts {
		if chosen == 0 {
			chosen = p.target
		}
		if p.target == chosen {
			why = append(why, p.text)
			break
		}
	}
	if chosen == 0 && sig.srvOK {
		chosen = sig.srvPort
	}
	if chosen == 0 && sig.imageOK {
		chosen = sig.image.port
	}
	if chosen == 0 && sig.hcOK {
		chosen = 80 // a healthcheck URL without a port
	}
	if sig.hcOK {
		why = append(why, "HTTP healthcheck of "+sig.hc.url)
	}
	if sig.srvOK {
		why = append(why, sig.srvWhy)
	}
	if sig.imageOK {
		why = append(why, fmt.Sprintf("image %s (serves HTTP on port %d)", sig.img, sig.image.port))
	}
	return chosen, why
}

// declaredPorts lists ports: then expose:, in file order. compose-go has
// already expanded ranges in ports:; an expose: range counts by its first
// port.
func declaredPorts(s types.ServiceConfig) []port {
	var out []port
	for _, p := range s.Ports {
		pp := port{target: int(p.Target), published: p.Published, udp: p.Protocol == "udp"}
		switch {
		case p.Published != "" && p.HostIP != "":
			pp.text = fmt.Sprintf("%s:%s:%d", p.HostIP, p.Published, p.Target)
		case p.Published != "":
			pp.text = fmt.Sprintf("%s:%d", p.Published, p.Target)
		default:
			pp.text = strconv.Itoa(int(p.Target))
		}
		if pp.udp {
			pp.text += "/udp"
		}
		pp.text = "ports: " + pp.text
		out = append(out, pp)
	}
	for _, e := range s.Expose {
		num, proto, _ := strings.Cut(e, "/")
		num, _, _ = strings.Cut(num, "-")
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		out = append(out, port{target: n, udp: proto == "udp", text: "expose: " + e})
	}
	return out
}

func published(ports []port) []string {
	var out []string
	for _, p := range ports {
		if p.published != "" {
			out = append(out, strings.TrimPrefix(p.text, "ports: "))
		}
	}
	return out
}

// namedVolumes are the named volumes a service writes to, sorted:
// anonymous volumes and binds carry no data a deploy must keep, and a
// volume mounted read-only (models, assets) is data the service only reads.
func namedVolumes(s types.ServiceConfig) []string {
	var out []string
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source != "" && !v.ReadOnly && !slices.Contains(out, v.Source) {
			out = append(out, v.Source)
		}
	}
	slices.Sort(out)
	return out
}

// healthcheck is an HTTP check found in a compose healthcheck test.
type healthcheck struct {
	port int    // 0 when the URL names none
	path string // with the query, as the check requests it
	url  string // scheme, host, port and path: what the comment shows
}

var httpURL = regexp.MustCompile(`http://[^\s'"|;&()<>\\]+`)

// healthURL finds `curl ... http://localhost:8080/healthz` in the
// service's healthcheck: curl, wget, or the app's own checker (`/app
// healthcheck http://127.0.0.1:8080/up`), since the URL is what says HTTP. Only plain-HTTP URLs on the container itself
// count: berth-proxy speaks HTTP to the app, and a check of another
// service says nothing about this one's port.
func healthURL(service string, s types.ServiceConfig) (healthcheck, bool) {
	hc := s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") {
		return healthcheck{}, false
	}
	cmd := strings.Join(hc.Test[1:], " ")
	raw := httpURL.FindString(cmd)
	if raw == "" || strings.Contains(raw, "$") {
		return healthcheck{}, false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return healthcheck{}, false
	}
	switch h := u.Hostname(); h {
	case "localhost", "127.0.0.1", "0.0.0.0", "::1", service, s.Hostname:
	default:
		return healthcheck{}, false
	}
	// Only the URL's scheme, host, port and path are kept: the command,
	// user info and query are interpolated and may hold a credential,
	// which must not be copied into berth.yaml or printed.
	out := healthcheck{path: u.EscapedPath()}
	if out.path == "" {
		out.path = "/"
	}
	out.url = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
	if p := u.Port(); p != "" {
		out.port, _ = strconv.Atoi(p)
	}
	return out, true
}
