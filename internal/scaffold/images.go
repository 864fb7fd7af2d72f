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
	"cockroach": "database", "etcd": "key-value store", "zookeeper": "coordination service",
	"redis": "cache", "redis-stack-server": "cache", "valkey": "cache", "keydb": "cache",
	"dragonfly": "cache", "memcached": "cache",
	"rabbitmq": "message broker", "kafka": "message broker", "cp-kafka": "message broker",
	"nats": "message broker", "mosquitto": "message broker", "eclipse-mosquitto": "message broker",
	"elasticsearch": "search engine", "opensearch": "search engine", "meilisearch": "search engine",
	"solr": "search engine", "typesense": "search engine",
	"minio": "object store",
}

// webImages serve HTTP; the value is the port the image listens on by
// default, used when compose names no HTTP port.
var webImages = map[string]int{
	"nginx": 80, "nginx-unprivileged": 8080, "openresty": 80, "caddy": 80,
	"httpd": 80, "apache": 80, "lighttpd": 80, "traefik": 80, "haproxy": 80,
	"nginx-proxy": 80, "tomcat": 8080, "jetty": 8080,
	"wordpress": 80, "drupal": 80, "joomla": 80, "mediawiki": 80, "nextcloud": 80,
	"ghost": 2368, "grafana": 3000, "prometheus": 9090, "gitea": 3000,
	"adminer": 8080, "phpmyadmin": 80, "pgadmin4": 80, "mongo-express": 8081,
	"kibana": 5601, "jenkins": 8080, "metabase": 3000, "n8n": 5678,
	"uptime-kuma": 3001, "whoami": 80,
}

// reverseProxies do what berth-proxy does: routing one of them behind
// berth-proxy works, but it is usually a layer the user can drop.
var reverseProxies = map[string]bool{"traefik": true, "haproxy": true, "nginx-proxy": true}

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

// webImagePort reports whether the image is a known web server and the
// port it listens on. php:8-apache and friends are Apache in a tag.
func webImagePort(name, tag string) (int, bool) {
	if p, ok := webImages[name]; ok {
		return p, true
	}
	if strings.Contains(tag, "apache") {
		return 80, true
	}
	return 0, false
}
