package scaffold

import (
	"strings"
)

// The tables below are what init knows about well-known images, by the
// last component of the repository name (so docker.io/library/postgres,
// bitnami/postgresql and ghcr.io/x/postgres all match). They only make a
// guess the user reviews; an image that is missing simply falls through
// to the port and healthcheck signals.

// dataImages hold state that must outlive deploys: databases, caches,
// brokers, search engines, object stores. They become accessories.
var dataImages = map[string]string{
	"postgres": "database", "postgresql": "database", "postgis": "database",
	"timescaledb": "database", "mysql": "database", "mysql-server": "database",
	"mariadb": "database", "percona": "database", "percona-server": "database",
	"mongo": "database", "mongodb": "database", "couchdb": "database",
	"cassandra": "database", "scylla": "database", "neo4j": "database",
	"clickhouse-server": "database", "clickhouse": "database", "influxdb": "database",
	"cockroach": "database", "prometheus": "time-series database",
	"etcd": "key-value store", "zookeeper": "coordination service", "cp-zookeeper": "coordination service",
	"redis": "cache", "redis-stack-server": "cache", "valkey": "cache", "keydb": "cache",
	"dragonfly": "cache", "memcached": "cache",
	"rabbitmq": "message broker", "kafka": "message broker", "cp-kafka": "message broker",
	"nats": "message broker", "mosquitto": "message broker", "eclipse-mosquitto": "message broker",
	"elasticsearch": "search engine", "opensearch": "search engine", "meilisearch": "search engine",
	"solr": "search engine", "typesense": "search engine",
	"minio": "object store",
}

// webImage is what init knows of an image that serves HTTP: the port it
// listens on by default and, where the image documents one, a health
// endpoint that answers 2xx when the app is ready.
type webImage struct {
	port   int
	health string
}

// webImages serve HTTP, used when compose names no HTTP port.
var webImages = map[string]webImage{
	"nginx": {80, ""}, "nginx-unprivileged": {8080, ""}, "openresty": {80, ""}, "caddy": {80, ""},
	"httpd": {80, ""}, "apache": {80, ""}, "lighttpd": {80, ""},
	"tomcat": {8080, ""}, "jetty": {8080, ""},
	"wordpress": {80, ""}, "drupal": {80, ""}, "joomla": {80, ""}, "mediawiki": {80, ""},
	"nextcloud": {80, "/status.php"}, "ghost": {2368, ""}, "grafana": {3000, "/api/health"},
	"gitea": {3000, "/api/healthz"}, "adminer": {8080, ""}, "phpmyadmin": {80, ""},
	"pgadmin4": {80, "/misc/ping"}, "mongo-express": {8081, ""}, "kibana": {5601, "/api/status"},
	"jenkins": {8080, "/login"}, "metabase": {3000, "/api/health"}, "n8n": {5678, "/healthz"},
	"uptime-kuma": {3001, ""}, "whoami": {80, ""}, "keycloak": {8080, ""},
}

// reverseProxies do what berth-proxy does and publish their own ports; as
// accessories they keep running beside berth-proxy, and the comment says
// the user may not need them at all.
var reverseProxies = map[string]bool{"traefik": true, "haproxy": true, "nginx-proxy": true, "envoy": true}

// httpPorts are container ports that web servers and app frameworks listen
// on by default (nginx, Rails/Node, Flask, Django/uvicorn, Spring/Go, ...).
// 443 and 8443 are left out: berth-proxy speaks plain HTTP to the app.
var httpPorts = map[int]bool{
	80: true, 3000: true, 3001: true, 4000: true, 5000: true, 8000: true,
	8008: true, 8080: true, 8081: true, 8088: true, 8888: true, 9090: true,
}

// imageName splits an image reference into the last component of its
// repository, lower-cased, and its tag: "ghcr.io/acme/shop-web:1.2" gives
// "shop-web", "1.2". A digest is dropped; a missing tag is "".
func imageName(ref string) (name, tag string) {
	ref = strings.ToLower(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	name, tag, _ = strings.Cut(ref, ":")
	return name, tag
}

// knownWebImage reports whether the image is a known web server and what
// is known of it. php:8-apache and friends are Apache in a tag.
func knownWebImage(name, tag string) (webImage, bool) {
	if w, ok := webImages[name]; ok {
		return w, true
	}
	if strings.Contains(tag, "apache") {
		return webImage{port: 80}, true
	}
	return webImage{}, false
}
