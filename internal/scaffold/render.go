package scaffold

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Review is one "# review:" comment of the written file, with its line so
// the summary can send the user straight there.
type Review struct {
	Line int    `json:"line"`
	Path string `json:"path"` // key path in berth.yaml, e.g. services.web.route.host
	Msg  string `json:"message"`
	// Placeholder marks a value that cannot be right as written (the route
	// host): it is listed before the other guesses.
	Placeholder bool `json:"placeholder,omitempty"`
}

// draft is the berth.yaml text being written, line by line, with the
// review comments it carries.
type draft struct {
	lines   []string
	reviews []Review
}

func (d *draft) line(format string, args ...any) {
	d.lines = append(d.lines, fmt.Sprintf(format, args...))
}

// reviewed writes a line that ends in a "# review:" comment and records it.
func (d *draft) reviewed(text, path, msg string, placeholder bool) {
	d.lines = append(d.lines, text+" # review: "+msg)
	d.reviews = append(d.reviews, Review{Line: len(d.lines), Path: path, Msg: msg, Placeholder: placeholder})
}

// reviewLine writes a comment line of its own, indented like the key it is
// about.
func (d *draft) reviewLine(indent, path, msg string) {
	d.lines = append(d.lines, indent+"# review: "+msg)
	d.reviews = append(d.reviews, Review{Line: len(d.lines), Path: path, Msg: msg})
}

func (d *draft) bytes() []byte {
	return []byte(strings.Join(d.lines, "\n") + "\n")
}

// draftInput is everything render needs; it touches no file.
type draftInput struct {
	App, AppFrom string // the app name, and what it was made from
	Compose      string // the compose file's name, for the header
	Guesses      []Guess
}

// render writes berth.yaml. Only keys whose value differs from berth's
// default are written (a route, accessory: true), so the file stays short
// and the defaults stay berth's to improve; everything else is said in
// comments.
func render(in draftInput) ([]byte, []Review) {
	d := &draft{}
	d.line("# berth.yaml: production settings for the compose project in %s,", in.Compose)
	d.line("# written by `berth init`. The app itself stays in %s.", in.Compose)
	d.line("# Lines marked \"# review:\" are guesses: check each one, then run")
	d.line("# `berth validate` and `berth policy check`. See docs/init.md.")
	d.line("")
	appWhy := fmt.Sprintf("from %s; it prefixes every container, network and volume berth creates, so settle it before the first deploy", in.AppFrom)
	d.reviewed("app: "+in.App, "app", appWhy, false)
	d.line("")
	d.line("# No hosts: berth deploys to the local engine (DOCKER_HOST, or the local")
	d.line("# socket). Name your production engines here before deploying to them:")
	d.line("# hosts:")
	d.line("#   web-1: tcp://10.0.0.11:2376")
	d.line("")
	if slices.ContainsFunc(in.Guesses, func(g Guess) bool { return g.Kind == Web && len(g.Profiles) == 0 }) {
		d.line("# berth-proxy takes port 80 on each host (the default) and routes by host")
		d.line("# name to the routes below; to listen elsewhere:")
		d.line("# proxy:")
		d.line("#   http: 0.0.0.0:80")
		d.line("")
	}
	d.line("services:")
	hosts := routeHosts(in.Guesses)
	for _, g := range in.Guesses {
		if len(g.Profiles) > 0 {
			renderDisabled(d, g, hosts[g.Service])
			continue
		}
		renderService(d, g, hosts[g.Service])
	}
	return d.bytes(), d.reviews
}

func renderService(d *draft, g Guess, host string) {
	key := yamlKey(g.Service)
	path := "services." + g.Service
	switch g.Kind {
	case Web:
		d.line("  %s:", key)
		d.reviewLine("    ", path+".route", "route guessed from "+strings.Join(g.Why, ", "))
		d.line("    route:")
		d.reviewed("      host: "+host, path+".route.host",
			"placeholder: set the domain name "+g.Service+" answers to (point its DNS at your hosts)", true)
		d.line("      port: %d", g.Port)
		d.reviewed("      health: "+yamlString(g.Health), path+".route.health", g.HealthWhy, false)
	case Accessory:
		d.line("  %s:", key)
		d.reviewLine("    ", path+".accessory", "accessory (created once, never replaced by a deploy) guessed from "+strings.Join(g.Why, ", "))
		d.line("    accessory: true")
	default:
		d.reviewed(fmt.Sprintf("  %s: {}", key), path, "a worker: "+strings.Join(g.Why, ", "), false)
	}
	indent := "    "
	if g.Kind == Worker {
		indent = "  " // a flow mapping has no body to indent under
	}
	for _, n := range g.Notes {
		d.reviewLine(indent, path, n)
	}
}

// renderDisabled writes a service the active profiles leave out as
// comments: berth.yaml settings for it would be refused until its profile
// is on, and lost if left out.
func renderDisabled(d *draft, g Guess, host string) {
	key := yamlKey(g.Service)
	path := "services." + g.Service
	flags := "--profile " + strings.Join(g.Profiles, " or --profile ")
	d.reviewLine("  ", path, fmt.Sprintf("%s is in profile %s, off by default: uncomment these lines when you deploy with %s",
		g.Service, strings.Join(g.Profiles, ", "), flags))
	switch g.Kind {
	case Web:
		d.line("  # %s:", key)
		d.line("  #   route: # guessed from %s", strings.Join(g.Why, ", "))
		d.line("  #     host: %s # placeholder: set the domain name %s answers to", host, g.Service)
		d.line("  #     port: %d", g.Port)
		d.line("  #     health: %s", yamlString(g.Health))
	case Accessory:
		d.line("  # %s:", key)
		d.line("  #   accessory: true # guessed from %s", strings.Join(g.Why, ", "))
	default:
		d.line("  # %s: {} # a worker", key)
	}
}

var notHostChars = regexp.MustCompile(`[^a-z0-9]+`)

// routeHosts gives every web service its own placeholder host name,
// <service>.example.com: example.com is reserved for documentation, so the
// file cannot route real traffic by accident, and distinct names keep two
// routes from claiming one host.
func routeHosts(gs []Guess) map[string]string {
	out := map[string]string{}
	used := map[string]bool{}
	for _, g := range gs {
		if g.Kind != Web {
			continue
		}
		label := strings.Trim(notHostChars.ReplaceAllString(strings.ToLower(g.Service), "-"), "-")
		if len(label) > 50 {
			label = strings.Trim(label[:50], "-")
		}
		if label == "" {
			label = "app"
		}
		host := label + ".example.com"
		for i := 2; used[host]; i++ {
			host = label + "-" + strconv.Itoa(i) + ".example.com"
		}
		used[host] = true
		out[g.Service] = host
	}
	return out
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// yamlKey writes a compose service name as a berth.yaml key, quoted when
// YAML would read it as something other than that string.
func yamlKey(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return strconv.Quote(s)
	}
	if plainKey.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

var plainPath = regexp.MustCompile(`^/[A-Za-z0-9_./-]*$`)

// yamlString quotes a health path that holds anything YAML might read
// differently (a query, a #).
func yamlString(s string) string {
	if plainPath.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}
