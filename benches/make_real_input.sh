#!/usr/bin/env bash
# Builds the real-traffic bench input: the Ethernet captures of
# testdata/corpus/pcap/ and testdata/sample.pcap on one monotonic timeline
# (pcapcat), then copies of that base with addresses rewritten by
# `tcprewrite --seed=N` (N = 1, 2, ...) appended one after another until the
# file reaches BYTES (default 1.5 GB). The same repository gives the same file.
#
# usage: benches/make_real_input.sh [OUT]   (default target/bench-input/real.pcap)
# env:   BYTES (decimal bytes, default 1500000000)
# needs: editcap (wireshark-common), tcprewrite (tcpreplay); installed from
#        Debian's packages when missing and running as root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/target/bench-input/real.pcap}
bytes=${BYTES:-1500000000}
. "$root/benches/need.sh"
need editcap wireshark-common
need tcprewrite tcpreplay
cargo build -q --release -p pathlens-benches --bin pcapcat --manifest-path "$root/Cargo.toml"
pcapcat=${CARGO_TARGET_DIR:-$root/target}/release/pcapcat
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"

# pcapng -> pcap; pcapcat skips captures that are not Ethernet.
inputs=()
for f in "$root"/testdata/corpus/pcap/* "$root"/testdata/sample.pcap; do
    case $f in
    *.pcapng)
        c=$work/$(basename "$f" .pcapng).pcap
        editcap -F pcap "$f" "$c"
        inputs+=("$c") ;;
    *) inputs+=("$f") ;;
    esac
done
base=$work/base.pcap
"$pcapcat" --out "$base" "${inputs[@]}" 2>/dev/null >/dev/null

# Copy 0 is the base itself; copy N has its addresses rewritten with seed N.
next=$("$pcapcat" --out "$out" "$base")
n=0
while [ "$(stat -c %s "$out")" -lt "$bytes" ]; do
    n=$((n + 1))
    tcprewrite --seed="$n" --infile="$base" --outfile="$work/copy.pcap"
    next=$("$pcapcat" --append --start-us "$next" --out "$out" "$work/copy.pcap")
done
echo "$out: $((n + 1)) copies, $(stat -c %s "$out") bytes" >&2
