#!/usr/bin/env bash
# Soak test of `pathlens live` (not in CI; needs root, ip, tcpreplay, python3).
# Replays the Ethernet corpus captures and the sample in a loop, with new
# addresses each loop (--unique-ip, so flows keep being created and expire),
# at RATE packets/s into a veth pair in a private network namespace, for
# SECS seconds; samples the RSS of pathlens and its counters (kernel drops,
# live flows, files) every 10 s and prints them.
#
#   sudo benches/soak.sh            # 600 s at 5000 packets/s
#   SECS=60 RATE=20000 PATHLENS=target/release/pathlens sudo -E benches/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-600}
RATE=${RATE:-5000}
BIN=${PATHLENS:-target/debug/pathlens}
NS=pl-soak-$$
OUT=$(mktemp -d)
[ -x "$BIN" ] || cargo build -q -p pathlens
cleanup() {
  [ -n "${REPLAY:-}" ] && kill "$REPLAY" 2>/dev/null || true
  [ -n "${PID:-}" ] && kill -INT "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$OUT" "$OUT.log"
}
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link add va type veth peer name vb
ip -n "$NS" link set va mtu 9000 up
ip -n "$NS" link set vb mtu 9000 up
ip -n "$NS" link set lo up
caps=(testdata/sample.pcap)
for f in testdata/corpus/pcap/*.pcap; do
  # Ethernet captures only (link type 1 at offset 20).
  [ "$(od -An -tu4 -j20 -N4 "$f" | tr -d ' ')" = 1 ] && caps+=("$f")
done
ip netns exec "$NS" "$BIN" live -i vb -w "$OUT" --rotate-interval 1m --idle-timeout 30s \
  --metrics-listen 9901 --stats-interval 60s 2>"$OUT.log" &
PID=$!
sleep 2
ip netns exec "$NS" tcpreplay -q -i va --pps="$RATE" --loop=0 --unique-ip "${caps[@]}" >/dev/null 2>&1 &
REPLAY=$!
scrape() {
  ip netns exec "$NS" python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9901/').read().decode())" \
    | awk -v k="$1" 'index($0, k" ") == 1 || index($0, k"{") == 1 { s += $NF } END { print s + 0 }'
}
echo "rate ${RATE} packets/s for ${SECS} s, $(basename "$BIN") pid $PID"
printf '%6s %10s %12s %12s %10s %10s %8s\n' t_s rss_kib received kernel_drop if_drop flows_live files
first=""
for ((t = 10; t <= SECS; t += 10)); do
  sleep 10
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$PID/status")
  first=${first:-$rss}
  printf '%6d %10d %12d %12d %10d %10d %8d\n' "$t" "$rss" \
    "$(scrape pathlens_pcap_received_packets_total)" \
    "$(ip netns exec "$NS" python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9901/').read().decode())" | awk '/reason="kernel"/ { print $NF }')" \
    "$(ip netns exec "$NS" python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9901/').read().decode())" | awk '/reason="interface"/ { print $NF }')" \
    "$(scrape pathlens_flows_live)" "$(scrape pathlens_files_written_total)"
done
echo "rss first ${first} KiB, last ${rss} KiB"
