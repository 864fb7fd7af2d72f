#!/usr/bin/env bash
# berth's second example on the local engine: a project shaped like a real
# one (examples/shop), deployed unchanged. The web service and the others are
# BUILT by berth from the project's Dockerfile (FROM scratch plus one static
# binary: no registry, no internet); the db keeps its data on a named volume
# and is published on loopback; the TCP service is published by berth's
# forwarder, so a redeploy does not refuse a single connection.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-./bin/berth}
EX=examples/shop

echo "==> building the shop binary the Dockerfile copies (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -trimpath -o "$EX/shop" ./$EX

echo "==> berth validate and policy check"
$BERTH -f $EX/berth.yaml validate
$BERTH -f $EX/berth.yaml policy check

echo "==> berth deploy (builds the image through the engine, then deploys)"
$BERTH -f $EX/berth.yaml deploy

echo "==> the web service through berth-proxy"
for _ in $(seq 1 20); do
  out=$(curl -fsS -H 'Host: shop.localhost' http://127.0.0.1:8089/ 2>/dev/null) && break
  sleep 0.5
done
echo "$out"
echo "==> the db on loopback (127.0.0.1:7000), the TCP service (127.0.0.1:7007)"
exec 3<>/dev/tcp/127.0.0.1/7000; echo "GET orders" >&3; read -r -t 3 orders <&3; exec 3<&-
echo "orders in the db: $orders"
exec 3<>/dev/tcp/127.0.0.1/7007; read -r -t 3 quote <&3; exec 3<&-
echo "$quote"

echo "==> berth status"
$BERTH -f $EX/berth.yaml status
echo
echo "Redeploy (nothing to build, nothing to change): $BERTH -f $EX/berth.yaml deploy"
echo "Take it down (the db's volume is kept):         $BERTH -f $EX/berth.yaml remove"
