#!/usr/bin/env bash
# Cluster DNS against dnsmasq, side by side in one run, on loopback (issue 6's DNS benchmark).
#
# closet's DNS server (crates/closet-dns, through its `dns_zone_server` example) and dnsmasq
# serve the same N A records (`svc-<i>.bench.svc.cluster.local`); dnsperf asks each in turn:
#   - throughput: ROUNDS alternating runs of DURATION seconds, unlimited rate, CLIENTS clients;
#   - latency: one run each at a fixed RATE (queries/s) with per-query output, for p50/p99.
# Needs: dnsperf, dnsmasq (apt-get install -y dnsperf dnsmasq). Nothing leaves 127.0.0.1.
set -euo pipefail

N=${N:-1000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-4}
RATE=${RATE:-20000}
CLOSET_PORT=${CLOSET_PORT:-5391}
DNSMASQ_PORT=${DNSMASQ_PORT:-5392}

for tool in dnsperf dnsmasq; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y dnsperf dnsmasq)" >&2; exit 1; }
done

root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p closet-dns --example dns_zone_server >&2
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$target/release/examples/dns_zone_server" "127.0.0.1:$CLOSET_PORT" "$N" \
    "$work/hosts" "$work/queries" 2>"$work/closet.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/queries" ] && break; sleep 0.1; done
dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= --no-resolv --no-hosts \
    --addn-hosts="$work/hosts" --listen-address=127.0.0.1 --bind-interfaces \
    --port="$DNSMASQ_PORT" --cache-size=10000 --user="$(id -un)" 2>"$work/dnsmasq.log" &
pids+=($!)
sleep 1

# qps and average latency (ms) of one unlimited run against PORT.
throughput() {
    dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$DURATION" -c "$CLIENTS" -q 200 2>&1 |
        awk '/Queries per second:/ {q=$4} /Average Latency/ {l=$4*1000} /Queries lost:/ {lost=$3}
             END {printf "%.0f %.3f %s\n", q, l, lost}'
}

# p50 and p99 latency (ms) at RATE queries per second against PORT.
latency() {
    dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l 5 -c "$CLIENTS" -Q "$RATE" -v 2>/dev/null |
        awk '/^> / {print $NF * 1000}' | sort -n |
        awk '{v[NR]=$1} END {if (NR==0) {print "- -"; exit}
             i50=int(NR*0.50); if (i50<1) i50=1; i99=int(NR*0.99); if (i99<1) i99=1;
             printf "%.3f %.3f\n", v[i50], v[i99]}'
}

echo "# $N records, $ROUNDS x ${DURATION}s per server, $CLIENTS clients; latency at $RATE q/s"
echo "| round | closet qps | dnsmasq qps | closet avg ms | dnsmasq avg ms |"
echo "|---|---|---|---|---|"
sum_c=0; sum_d=0
for round in $(seq "$ROUNDS"); do
    read -r qc lc lostc < <(throughput "$CLOSET_PORT")
    read -r qd ld lostd < <(throughput "$DNSMASQ_PORT")
    echo "| $round | $qc | $qd | $lc | $ld |"
    sum_c=$((sum_c + qc)); sum_d=$((sum_d + qd))
done
read -r p50c p99c < <(latency "$CLOSET_PORT")
read -r p50d p99d < <(latency "$DNSMASQ_PORT")
echo
echo "| server | mean qps | p50 ms at $RATE q/s | p99 ms at $RATE q/s |"
echo "|---|---|---|---|"
echo "| closet | $((sum_c / ROUNDS)) | $p50c | $p99c |"
echo "| dnsmasq | $((sum_d / ROUNDS)) | $p50d | $p99d |"
awk -v c="$sum_c" -v d="$sum_d" 'BEGIN {printf "\nqps ratio closet/dnsmasq: %.2f\n", (d > 0 ? c / d : 0)}'
