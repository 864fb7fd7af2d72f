#!/usr/bin/env bash
# The compose-project benchmarks (docs/benchmarks.md §7), side by side in one run:
#  1. examples/shop's first deploy, build included, against docker compose's
#     `up -d --build` of the same files: time from the command to every
#     service serving (all healthchecks healthy, the TCP port answering);
#  2. a redeploy with nothing changed (no rebuild, nothing replaced);
#  3. TCP through berth's forwarder (`berth proxy forward`, as a host process)
#     against straight to the backend container and against nginx's stream
#     module placed exactly like it: connections/s and throughput;
#  4. failed connection attempts to the shop's TCP service while it is
#     redeployed (a new release), from a client opening connections nonstop.
# Needs: docker engine, docker-compose (or docker compose), nginx with the
# stream module (apt-get install nginx-light libnginx-mod-stream), curl, go.
# Knobs: ROUNDS (3), DURATION (10s), CONC (32).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONC=${CONC:-32}
BERTH=$PWD/bin/berth
FPORT=19100  # berth proxy forward, host process
NPORT=19101  # nginx stream
for t in nginx curl docker go; do command -v $t >/dev/null || { echo "bench needs $t"; exit 1; }; done
if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
STREAM_MOD=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f $STREAM_MOD ] || { echo "bench needs nginx's stream module (apt-get install libnginx-mod-stream)"; exit 1; }

work=$(mktemp -d)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${fwd:-}" ] && kill "$fwd" 2>/dev/null || true
  docker rm -f berth-bench-echo >/dev/null 2>&1 || true
  (cd "$work/shop" 2>/dev/null && "${COMPOSE[@]}" -p shopbench down -v >/dev/null 2>&1) || true
  (cd "$work/shop" 2>/dev/null && "$BERTH" remove --yes --volumes >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
json() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# The project lives outside berth's git tree, so its revision is a hash of
# its context (as for any project that is not a git checkout).
mkdir -p "$work/shop"
cp -r examples/shop/. "$work/shop/"
CGO_ENABLED=0 go build -trimpath -o "$work/shop/shop" ./examples/shop
CGO_ENABLED=0 go build -trimpath -o "$work/tcpload" ./bench/tcpload

fresh() { # no image of the shop, no build cache: both tools start cold
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(shop|shopbench|shop-[a-z]+)[:_-]' | xargs -r docker rmi -f >/dev/null 2>&1 || true
  docker builder prune -af >/dev/null 2>&1 || true
}
serving() { # every container of the project healthy and port 7007 answering
  local label=$1
  for _ in $(seq 1 600); do
    local ids states
    ids=$(docker ps -q --filter "label=$label")
    if [ -n "$ids" ]; then
      # berth's forwarders have no HEALTHCHECK of their own: "none" is fine
      states=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}healthy{{end}}' $ids | sort -u | paste -sd,)
      if [ "$states" = healthy ] && timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7007; read -r l <&3; [ -n "$l" ]' 2>/dev/null; then
        return 0
      fi
    fi
    sleep 0.05
  done
  echo "never served ($label)"; return 1
}

echo "== 1-2. examples/shop: first deploy (build included) and redeploy with nothing changed, $ROUNDS rounds"
: > "$work/compose.t"; : > "$work/berth.t"; : > "$work/redeploy.t"
for r in $(seq 1 "$ROUNDS"); do
  fresh
  t0=$(now)
  (cd "$work/shop" && "${COMPOSE[@]}" -p shopbench up -d --build >/dev/null 2>&1)
  serving com.docker.compose.project=shopbench
  echo "$(now) - $t0" | bc >> "$work/compose.t"
  (cd "$work/shop" && "${COMPOSE[@]}" -p shopbench down -v >/dev/null 2>&1)

  fresh
  t0=$(now)
  (cd "$work/shop" && "$BERTH" deploy >"$work/deploy1.out" 2>&1) || { cat "$work/deploy1.out"; exit 1; }
  serving berth.app=shop
  echo "$(now) - $t0" | bc >> "$work/berth.t"
  t0=$(now)
  (cd "$work/shop" && "$BERTH" deploy >"$work/deploy2.out" 2>&1) || { cat "$work/deploy2.out"; exit 1; }
  echo "$(now) - $t0" | bc >> "$work/redeploy.t"
  if grep -qiE ' build +(building|step)|deployed release' "$work/deploy2.out"; then
    echo "the redeploy with nothing changed built or replaced something:"; cat "$work/deploy2.out"; exit 1
  fi
  [ "$r" = "$ROUNDS" ] || (cd "$work/shop" && "$BERTH" remove --yes --volumes >/dev/null 2>&1)
done
c=$(median < "$work/compose.t"); b=$(median < "$work/berth.t"); d=$(median < "$work/redeploy.t")
printf '%-44s %8s s  (runs: %s)\n' "${COMPOSE[*]} up -d --build, to serving" "$c" "$(paste -sd' ' "$work/compose.t" | xargs printf '%.2f ')"
printf '%-44s %8s s  (runs: %s)  = %.2fx\n' "berth deploy (build included), to serving" "$b" "$(paste -sd' ' "$work/berth.t" | xargs printf '%.2f ')" "$(echo "$b / $c" | bc -l)"
printf '%-44s %8s s  (runs: %s)\n' "berth deploy, nothing changed" "$d" "$(paste -sd' ' "$work/redeploy.t" | xargs printf '%.2f ')"

echo
echo "== 4. failed connection attempts to the TCP service during its redeploy"
"$work/tcpload" watch -addr 127.0.0.1:7007 -c 4 -until "$work/done" -max 3m > "$work/watch.json" &
watch=$!
sleep 1
(cd "$work/shop" && VERSION=v2 "$BERTH" deploy quote >"$work/deploy3.out" 2>&1) || { cat "$work/deploy3.out"; exit 1; }
sleep 1
touch "$work/done"; wait $watch
after=$(timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7007; read -r l <&3; echo "$l"')
printf 'connections %s, failed %s (first error: %s); now answering: %s\n' \
  "$(json conns < "$work/watch.json")" "$(json failed < "$work/watch.json")" \
  "$(sed -n 's/.*"first_error":"\([^"]*\)".*/\1/p' "$work/watch.json")" "$after"
grep -q 'v2' <<<"$after" || { echo "the TCP service did not move to v2"; cat "$work/deploy3.out"; exit 1; }
(cd "$work/shop" && "$BERTH" remove --yes --volumes >/dev/null 2>&1)

echo
echo "== 3. TCP: direct vs berth's forwarder vs nginx stream, $ROUNDS rounds of $DURATION, $CONC clients"
tar -C "$work" -cf - tcpload | docker import --change 'ENTRYPOINT ["/tcpload","echo","-listen",":9000"]' --change 'ENV VERSION=bench' - berth-bench-tcpload:latest >/dev/null
docker run -d --name berth-bench-echo berth-bench-tcpload:latest >/dev/null
ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' berth-bench-echo)
"$BERTH" proxy forward --listen "tcp/$FPORT:9000" --admin "$work/fwd.sock" --state "$work/fwd.json" >"$work/fwd.log" 2>&1 &
fwd=$!
for _ in $(seq 1 50); do [ -S "$work/fwd.sock" ] && break; sleep 0.1; done
"$BERTH" proxy admin --admin "$work/fwd.sock" PUT /forward "{\"targets\":[\"$ip\"]}" >/dev/null
cat > "$work/nginx.conf" <<NGINX
load_module $STREAM_MOD;
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 4096; }
stream { server { listen 127.0.0.1:$NPORT; proxy_pass $ip:9000; } }
NGINX
nginx -c "$work/nginx.conf"
sleep 0.5
for path in "direct $ip:9000" "forwarder 127.0.0.1:$FPORT" "nginx 127.0.0.1:$NPORT"; do
  set -- $path
  "$work/tcpload" conns -addr "$2" -c 2 -d 1s >/dev/null # warm up
done
: > "$work/tcp.t"
for r in $(seq 1 "$ROUNDS"); do
  for path in "direct $ip:9000" "forwarder 127.0.0.1:$FPORT" "nginx 127.0.0.1:$NPORT"; do
    set -- $path
    cps=$("$work/tcpload" conns -addr "$2" -c "$CONC" -d "$DURATION")
    mbs=$("$work/tcpload" stream -addr "$2" -c 4 -d "$DURATION")
    echo "$1 $(json conns_per_sec <<<"$cps") $(json failed <<<"$cps") $(json mb_per_sec <<<"$mbs") $(json failed <<<"$mbs")" >> "$work/tcp.t"
  done
done
printf '%-10s %14s %10s %14s\n' path "conns/s(med)" failed "MB/s(med)"
for p in direct forwarder nginx; do
  cps=$(awk -v p=$p '$1==p {print $2}' "$work/tcp.t" | median)
  mbs=$(awk -v p=$p '$1==p {print $4}' "$work/tcp.t" | median)
  fails=$(awk -v p=$p '$1==p {s+=$3+$5} END {print s+0}' "$work/tcp.t")
  printf '%-10s %14.0f %10s %14.1f\n' $p "$cps" "$fails" "$mbs"
  eval "cps_$p=$cps mbs_$p=$mbs"
done
printf 'forwarder / nginx: %.2fx connections/s, %.2fx throughput\n' \
  "$(echo "$cps_forwarder / $cps_nginx" | bc -l)" "$(echo "$mbs_forwarder / $mbs_nginx" | bc -l)"
