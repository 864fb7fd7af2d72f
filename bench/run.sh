#!/usr/bin/env bash
# berth's benchmarks, printed as tables (docs/benchmarks.md records a run):
#  1. proxy throughput and p50/p99 latency: straight to the app container,
#     through berth-proxy, and through Debian's nginx as a reverse proxy, with
#     the same load generator (wrk) in the same run;
#  2. deploy overhead: from `berth deploy` to the new version answering,
#     minus the app's own time from container start to listening.
# Needs: docker engine, wrk, hey, nginx (apt-get install wrk hey nginx-light), curl.
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
# The bench owns the local engine while it runs: it may move berth-proxy.
"$BERTH" deploy --image web=berth-bench:v1 --recreate-proxy >"$work/deploy.log" 2>&1 || { cat "$work/deploy.log"; exit 1; }
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

# measure URL: one wrk run; prints "req/s p50 p99 errors".
measure() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H 'Host: bench.local' "$1")
  awk '/Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx|Socket errors/ {e=e $0 " "} END {if (e=="") e="0"; print r, p50, p99, e}' <<<"$out"
}
# to_ms turns wrk's 1.23ms / 456.78us / 1.2s into milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$1"; }

names=("direct to the app container" "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') (host process, 127.0.0.1)" "berth-proxy (host process, 127.0.0.1)" "berth-proxy (container, its address)" "berth-proxy (container, published)")
urls=("http://$APP_IP:8080/" "http://127.0.0.1:$NPORT/" "http://127.0.0.1:$HPORT/" "http://$PROXY_IP:8080/" "http://127.0.0.1:$PPORT/")
ROUNDS_T=${ROUNDS_T:-3}
declare -A res
for u in "${urls[@]}"; do wrk -t"$THREADS" -c"$CONNS" -d2s -H 'Host: bench.local' "$u" >/dev/null 2>&1; done   # warm up
# Rounds interleave the paths so that a noisy moment hits all of them.
for r in $(seq 1 "$ROUNDS_T"); do
  for i in "${!urls[@]}"; do res[$i,$r]=$(measure "${urls[$i]}"); done
done
median() { sort -n | sed -n "$(( (ROUNDS_T + 1) / 2 ))p"; }

echo "## proxy throughput (wrk -t$THREADS -c$CONNS -d$DURATION, keep-alive, GET / ~40 B JSON; $ROUNDS_T interleaved rounds, median; $(nproc) cores shared by wrk, proxy and app)"
echo
printf '| %-40s | %10s | %8s | %8s | %s\n' "path" "req/s" "p50 ms" "p99 ms" "errors (all rounds)"
printf '|%s|%s|%s|%s|%s\n' "------------------------------------------" "------------" "----------" "----------" "------"
for i in "${!urls[@]}"; do
  rps=$(for r in $(seq 1 "$ROUNDS_T"); do awk '{print $1}' <<<"${res[$i,$r]}"; done | median)
  p50=$(for r in $(seq 1 "$ROUNDS_T"); do to_ms "$(awk '{print $2}' <<<"${res[$i,$r]}")"; echo; done | median)
  p99=$(for r in $(seq 1 "$ROUNDS_T"); do to_ms "$(awk '{print $3}' <<<"${res[$i,$r]}")"; echo; done | median)
  errs=$(for r in $(seq 1 "$ROUNDS_T"); do cut -d' ' -f4- <<<"${res[$i,$r]}"; done | sort -u | tr '\n' ' ')
  printf '| %-40s | %10s | %8s | %8s | %s\n' "${names[$i]}" "$rps" "$p50" "$p99" "$errs"
  [ "$i" = 1 ] && nginx_rps=$rps nginx_p99=$p99
  [ "$i" = 2 ] && berth_rps=$rps berth_p99=$p99
done
echo
awk -v b="$berth_rps" -v n="$nginx_rps" -v bp="$berth_p99" -v np="$nginx_p99" 'BEGIN {printf "berth-proxy / nginx, same placement: %.2fx requests/s, p99 %+.2f ms (at saturation)\n", b/n, bp-np}'
echo

# Latency at a fixed, unsaturated rate: what the proxy adds to a request,
# without queueing on two busy cores (hey: 10 workers x 100 req/s).
if command -v hey >/dev/null; then
  echo "## added latency at 1000 req/s (hey -z $DURATION -c 10 -q 100)"
  echo
  printf '| %-40s | %8s | %8s | %8s |\n' "path" "p50 ms" "p90 ms" "p99 ms"
  printf '|%s|%s|%s|%s|\n' "------------------------------------------" "----------" "----------" "----------"
  for i in 0 1 2 3; do
    out=$(hey -z "$DURATION" -c 10 -q 100 -host bench.local "${urls[$i]}")
    pct() { awk -v p="$1" '$1==p"%" && $2=="in" {printf "%.2f", $3*1000}' <<<"$out"; }
    printf '| %-40s | %8s | %8s | %8s |\n' "${names[$i]}" "$(pct 50)" "$(pct 90)" "$(pct 99)"
  done
  echo
fi

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
  "$BERTH" deploy --image web=berth-bench:$v --recreate-proxy >"$work/deploy.log" 2>&1 &
  dpid=$!
  for _ in $(seq 1 3000); do   # bounded: ~1 min at most
    body=$(curl -s --max-time 1 -H 'Host: bench.local' "http://127.0.0.1:$PPORT/" || true)
    case $body in *"\"$v\""*) break ;; esac
  done
  t1=$(date +%s%3N)
  wait $dpid || { cat "$work/deploy.log"; exit 1; }
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
