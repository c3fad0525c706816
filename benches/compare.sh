#!/usr/bin/env bash
# Whole-process comparison on one capture, in one run: pathlens with
# everything on (payload classification, Office 365 attribution, media
# metrics, Parquet output) against ndpiReader (nDPI), softflowd (flows, no
# DPI; `-c none`: with a control socket it waits for commands after the
# file ends) and a plain libpcap read (`tcpdump -r FILE -w /dev/null`). The
# commands alternate, ROUNDS times (default 3); the table gives the median
# wall time, packets/s and the highest peak RSS (`/usr/bin/time -v`), then
# the ratios the performance goal is stated in. Results are appended to
# benches/RESULTS.md with the date, the machine and the load average.
#
# The same packets are also read as pcapng (`editcap -F pcapng`, what
# dumpcap and Wireshark write) and as a zstd archive (`zstd -1`), by
# pathlens and by tcpdump (through `zstd -dc` for the archive): the table
# ends with pathlens's wall time against tcpdump's per format. FORMATS
# `vxlan` adds the same frames wrapped in VXLAN (benches/make_vxlan_input.sh,
# made once beside the input as NAME-vxlan.pcap), read by both, and the
# ratio of pathlens's wall time on it to its time on the plain file.
#
# usage: benches/compare.sh [FILE]   (default target/bench-input/real.pcap,
#        built by benches/make_real_input.sh)
# env:   ROUNDS, PATHLENS (binary; default: cargo build --release),
#        FORMATS (default "pcapng zst"; also "vxlan"; "" for the classic
#        pcap alone),
#        EXTRA (more "label|command" lines, e.g. pathlens variants),
#        RESULTS (file to append to; "-" prints only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file=${1:-$root/target/bench-input/real.pcap}
rounds=${ROUNDS:-3}
results=${RESULTS:-$root/benches/RESULTS.md}
[ -f "$file" ] || { echo "$file missing: run benches/make_real_input.sh" >&2; exit 1; }
. "$root/benches/need.sh"
need ndpiReader libndpi-bin
need softflowd softflowd
need tcpdump tcpdump
need capinfos wireshark-common
need /usr/bin/time time
need zstd zstd
need editcap wireshark-common
if [ -z "${PATHLENS:-}" ]; then
    cargo build -q --release -p pathlens --manifest-path "$root/Cargo.toml"
    PATHLENS=${CARGO_TARGET_DIR:-$root/target}/release/pathlens
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packets=$(capinfos -c -M -T -r "$file" | awk -F'\t' '{print $2}')
o365=$root/signatures/o365-endpoints-worldwide.json

labels=(pathlens ndpiReader softflowd tcpdump)
cmds=(
    "$PATHLENS read $file -q -w $work/out.parquet --o365 $o365"
    "ndpiReader -q -i $file"
    "softflowd -r $file -6 -d -c none -p $work/sf.pid"
    "tcpdump -r $file -w /dev/null"
)
# The other formats sit beside the input, made once.
for f in ${FORMATS-pcapng zst}; do
    case $f in
    pcapng)
        ng=${file%.pcap}.pcapng
        [ -s "$ng" ] || editcap -F pcapng "$file" "$ng"
        labels+=("pathlens pcapng" "tcpdump pcapng")
        cmds+=("$PATHLENS read $ng -q -w $work/out.parquet --o365 $o365"
            "tcpdump -r $ng -w /dev/null") ;;
    zst)
        zs=$file.zst
        [ -s "$zs" ] || zstd -q -1 -T0 -o "$zs" "$file"
        labels+=("pathlens pcap.zst" "tcpdump pcap.zst")
        cmds+=("$PATHLENS read $zs -q -w $work/out.parquet --o365 $o365"
            "zstd -dc $zs | tcpdump -r - -w /dev/null") ;;
    vxlan)
        vx=${file%.pcap}-vxlan.pcap
        [ -s "$vx" ] || "$root/benches/make_vxlan_input.sh" "$file" "$vx" >/dev/null
        labels+=("pathlens vxlan" "tcpdump vxlan")
        cmds+=("$PATHLENS read $vx -q -w $work/out.parquet --o365 $o365"
            "tcpdump -r $vx -w /dev/null") ;;
    *) echo "FORMATS: unknown format $f (pcapng, zst, vxlan)" >&2; exit 1 ;;
    esac
done
while IFS='|' read -r l c; do
    [ -n "$l" ] || continue
    labels+=("$l"); cmds+=("${c//FILE/$file}")
done <<<"${EXTRA:-}"

# Warm the page cache so every command reads from memory.
load0=$(cut -d" " -f1-3 /proc/loadavg)
cat "$file" >/dev/null
declare -A walls rss
for ((r = 1; r <= rounds; r++)); do
    for i in "${!labels[@]}"; do
        rm -rf "$work"/out.*
        /usr/bin/time -v -o "$work/t" bash -c "${cmds[$i]}" >/dev/null 2>"$work/err" ||
            { echo "${labels[$i]} failed:" >&2; cat "$work/err" >&2; exit 1; }
        w=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(k=1;k<=n;k++) s=s*60+a[k]; print s}' "$work/t")
        m=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/t")
        walls[$i]="${walls[$i]:-} $w"
        [ "${rss[$i]:-0}" -ge "$m" ] || rss[$i]=$m
        echo "round $r ${labels[$i]}: ${w}s, ${m} KB" >&2
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A med
for i in "${!labels[@]}"; do med[$i]=$(echo "${walls[$i]}" | median); done
p=${med[0]}
{
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC'), $(basename "$file")"
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r);" \
        "load average before: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Input: $packets packets, $(stat -c %s "$file") bytes. Median of $rounds alternating runs."
    echo
    echo "| command | wall s (runs) | packets/s | peak RSS MB | pathlens speed / its speed |"
    echo "|---|---|---|---|---|"
    for i in "${!labels[@]}"; do
        pps=$(awk -v n="$packets" -v s="${med[$i]}" 'BEGIN {printf "%.2f M", n / s / 1e6}')
        ratio=$(awk -v a="${med[$i]}" -v b="$p" 'BEGIN {printf "%.2f", a / b}')
        echo "| ${labels[$i]} | ${med[$i]} (${walls[$i]# }) | $pps | $((rss[$i] / 1024)) | $ratio |"
    done
    # pathlens against a bare libpcap read, format by format (goal 0.8).
    for i in "${!labels[@]}"; do
        case ${labels[$i]} in
        tcpdump*)
            fmt=${labels[$i]#tcpdump}
            for j in "${!labels[@]}"; do
                [ "${labels[$j]}" = "pathlens$fmt" ] || continue
                awk -v f="${fmt:- pcap}" -v t="${med[$i]}" -v q="${med[$j]}" \
                    'BEGIN {printf "\npathlens speed / tcpdump speed,%s: %.2f", f, t / q}'
            done ;;
        esac
    done
    # Decapsulation's cost: the VXLAN copy against the plain file (goal 1.15).
    for i in "${!labels[@]}"; do
        [ "${labels[$i]}" = "pathlens vxlan" ] || continue
        awk -v v="${med[$i]}" -v q="$p" \
            'BEGIN {printf "\npathlens wall on vxlan / on pcap: %.2f", v / q}'
    done
    echo
} >"$work/table"
cat "$work/table"
[ "$results" = - ] || cat "$work/table" >>"$results"
