#!/usr/bin/env bash
# berth's main job on the local engine, end to end: build the example app
# FROM scratch (no registry, no internet), deploy v1, then deploy v2 while a
# client keeps requesting, and show that not one request failed.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-./bin/berth}
EX=examples/hello
PORT=8088

echo "==> building the example app and importing hello:v1, hello:v2 (FROM scratch)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$tmp/app" ./$EX
for v in v1 v2; do
  tar -C "$tmp" -cf - app | docker import --change 'ENTRYPOINT ["/app"]' --change "ENV VERSION=$v" - "hello:$v" >/dev/null
done

echo "==> berth validate"
$BERTH -f $EX/berth.yaml validate
echo "==> berth deploy (v1)"
$BERTH -f $EX/berth.yaml deploy --image web=hello:v1
curl -fsS -H 'Host: hello.localhost' "http://127.0.0.1:$PORT/"

echo "==> berth deploy v2 under continuous requests"
ok=0; failed=0; seen=""
( while :; do
    if out=$(curl -fsS --max-time 5 -H 'Host: hello.localhost' "http://127.0.0.1:$PORT/" 2>/dev/null); then echo "ok $out"; else echo "FAIL"; fi
  done ) > "$tmp/requests" &
load=$!
sleep 1
$BERTH -f $EX/berth.yaml deploy --image web=hello:v2
sleep 1
kill $load; wait $load 2>/dev/null || true
ok=$(grep -c '^ok' "$tmp/requests" || true)
failed=$(grep -c '^FAIL' "$tmp/requests" || true)
versions=$(grep '^ok' "$tmp/requests" | awk '{print $NF}' | uniq | paste -sd' ')
echo "==> $ok requests answered, $failed failed; versions in order: $versions"

echo "==> berth releases"
$BERTH -f $EX/berth.yaml releases
echo "==> berth status"
$BERTH -f $EX/berth.yaml status
echo
echo "Roll back with: $BERTH -f $EX/berth.yaml rollback"
echo "Take it down:   $BERTH -f $EX/berth.yaml remove"
[ "$failed" = 0 ]
