#!/usr/bin/env bash
# Builds the VXLAN-wrapped copy of the real-traffic bench input: every frame
# of IN inside an outer Ethernet/IPv4/UDP 4789/VXLAN header with one VNI, as
# an Azure virtual network TAP or an AWS traffic mirror delivers it
# (`vxlanwrap`, benches/src/bin/vxlanwrap.rs; the input is only read).
#
# usage: benches/make_vxlan_input.sh [IN] [OUT]
#        (defaults target/bench-input/real.pcap and, beside IN, its name
#        with -vxlan before .pcap: target/bench-input/real-vxlan.pcap)
# env:   VNI (default 5001), VXLANWRAP (a built vxlanwrap binary; default:
#        cargo build --release of it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
in=${1:-$root/target/bench-input/real.pcap}
out=${2:-${in%.pcap}-vxlan.pcap}
[ -f "$in" ] || { echo "$in missing: run benches/make_real_input.sh" >&2; exit 1; }
[ "$in" != "$out" ] || { echo "the output would overwrite $in" >&2; exit 1; }
if [ -z "${VXLANWRAP:-}" ]; then
    cargo build -q --release -p pathlens-benches --bin vxlanwrap --manifest-path "$root/Cargo.toml"
    VXLANWRAP=${CARGO_TARGET_DIR:-$root/target}/release/vxlanwrap
fi
mkdir -p "$(dirname "$out")"
# Written aside and renamed, so an interrupted run leaves no partial file
# that compare.sh would take for the input.
"$VXLANWRAP" --vni "${VNI:-5001}" "$in" "$out.part" >/dev/null
mv "$out.part" "$out"
echo "$out"
