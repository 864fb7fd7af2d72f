#!/usr/bin/env bash
# berth's benchmarks, printed as tables (docs/benchmarks.md records a run):
#  1. proxy throughput and p50/p99 latency: straight to the app container,
#     through berth-proxy, and through Debian's nginx as a reverse proxy, with
#     the same load generator (wrk) in the same run;
#  2. deploy overhead: from `berth deploy` to the new version answering,
#     minus the app's own time from container start to listening.
# Needs: docker engine, wrk, nginx (apt-get install wrk nginx-light), curl.
# Knobs: DURATION (10s), CONNS (64), THREADS (2), ROUNDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
BERTH=$PWD/bin/berth
PPORT=18580   # berth-proxy, published on loopback
NPORT=18581   # nginx
HPORT=18582   # berth-proxy as a host process, placed exactly like nginx
for t in wrk nginx curl docker; do command -v $t >/dev/null || { echo "bench needs $t (apt-get install wrk nginx-light curl)"; exit 1; }; done

work=$(mktemp -d)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${hostproxy:-}" ] && kill "$hostproxy" 2>/dev/null || true
  (cd "$work" && "$BERTH" remove --yes >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -o "$work/app" ./internal/testenv/testapp
for v in v1 v2; do
  tar -C "$work" -cf - app | docker import --change 'ENTRYPOINT ["/app"]' --change "ENV VERSION=$v" - "berth-bench:$v" >/dev/null
done
cat > "$work/compose.yaml" <<YAML
services:
  web:
    image: berth-bench:v1
YAML
cat > "$work/berth.yaml" <<YAML
app: bench
proxy: { http: 127.0.0.1:$PPORT }
services:
  web:
    route: { host: bench.local, port: 8080, health: /up, health_interval: 50ms }
    deploy: { drain: 5s }
YAML
cd "$work"
"$BERTH" deploy --image web=berth-bench:v1 >/dev/null 2>&1
ip_of() { docker inspect -f '{{(index .NetworkSettings.Networks "berth").IPAddress}}' "$1"; }
APP_IP=$(ip_of bench-web-1)
PROXY_IP=$(ip_of berth-proxy)

cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log $work/nginx-access.log combined buffer=64k flush=1s;
  upstream app { server $APP_IP:8080; keepalive 128; }
  server {
    listen 127.0.0.1:$NPORT;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
# The same berth-proxy code as a host process: same network path as nginx
# (loopback in, bridge out), so the comparison is of the proxies alone.
"$BERTH" proxy run --listen 127.0.0.1:$HPORT --state "$work/state.json" --admin "$work/admin.sock" >"$work/hostproxy-access.log" 2>"$work/hostproxy.log" &
hostproxy=$!
sleep 0.5
"$BERTH" proxy admin --admin "$work/admin.sock" PUT /routes "{\"key\":\"bench/web\",\"hosts\":[\"bench.local\"],\"target\":\"$APP_IP:8080\"}" >/dev/null

# run NAME URL: one wrk run, printed as a table row.
run() {
  local name=$1 url=$2 out
  wrk -t"$THREADS" -c"$CONNS" -d2s -H 'Host: bench.local' "$url" >/dev/null 2>&1   # warm up
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Host: bench.local' "$url")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '| %-34s | %10s | %8s | %8s | %s\n' "$name" "$rps" "$p50" "$p99" "${errs:-0 errors}"
}

echo "## proxy throughput (wrk -t$THREADS -c$CONNS -d$DURATION, keep-alive, GET / ~40 B JSON; $(nproc) cores shared by wrk, proxy and app)"
echo
printf '| %-34s | %10s | %8s | %8s | %s\n' "path" "req/s" "p50" "p99" "errors"
printf '|%s|%s|%s|%s|%s\n' "------------------------------------" "------------" "----------" "----------" "------"
run "direct to the app container" "http://$APP_IP:8080/"
run "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (host process, 127.0.0.1)" "http://127.0.0.1:$NPORT/"
run "berth-proxy (host process, 127.0.0.1)" "http://127.0.0.1:$HPORT/"
run "berth-proxy (container, its address)" "http://$PROXY_IP:8080/"
run "berth-proxy (container, published)" "http://127.0.0.1:$PPORT/"
echo

# Deploy overhead: deploy start -> new version answering through the proxy,
# minus the app's own start (container StartedAt -> its "listening" line).
echo "## deploy overhead (ROUNDS=$ROUNDS, alternating v2/v1, health_interval 50ms)"
echo
printf '| %5s | %12s | %12s | %12s |\n' round "to serving" "app start" overhead
printf '|%s|%s|%s|%s|\n' "-------" "--------------" "--------------" "--------------"
ms() { date -d "$1" +%s%3N; }
overheads=()
for i in $(seq 1 "$ROUNDS"); do
  v=v2; [ $((i % 2)) = 0 ] && v=v1
  t0=$(date +%s%3N)
  "$BERTH" deploy --image web=berth-bench:$v >"$work/deploy.log" 2>&1 &
  dpid=$!
  while :; do
    body=$(curl -s --max-time 1 -H 'Host: bench.local' "http://127.0.0.1:$PPORT/" || true)
    case $body in *"\"$v\""*) break ;; esac
  done
  t1=$(date +%s%3N)
  wait $dpid
  name=$(docker ps --filter label=berth.app=bench --filter label=berth.service=web --format '{{.Names}}' | head -1)
  started=$(docker inspect -f '{{.State.StartedAt}}' "$name")
  listening=$(docker logs -t "$name" 2>&1 | awk '/listening/ {print $1; exit}')
  app=$(( $(ms "$listening") - $(ms "$started") ))
  total=$(( t1 - t0 ))
  over=$(( total - app ))
  overheads+=("$over")
  printf '| %5s | %9s ms | %9s ms | %9s ms |\n' "$i" "$total" "$app" "$over"
done
sorted=$(printf '%s\n' "${overheads[@]}" | sort -n)
echo
echo "median deploy overhead: $(sed -n "$(( (ROUNDS + 1) / 2 ))p" <<<"$sorted") ms"
