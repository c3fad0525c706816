#!/usr/bin/env bash
# One fuzz campaign: the named targets (all of them without names), one at
# a time, each for SECONDS (default 600), at the lowest CPU priority and
# building on one core, so it can run beside other work. Each target grows
# its git-ignored corpus fuzz/corpus/<target> from the committed seeds;
# logs go to fuzz/logs/<target>.log. At the end a table gives, per target,
# the executions, the corpus size, the final coverage (cov/ft) and the
# crashes (inputs under fuzz/artifacts/<target>/).
#
#   fuzz/scripts/campaign.sh [-t SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler. Runs on
# stable with `-s none`; set SANITIZER=address (nightly) for AddressSanitizer.
set -euo pipefail

secs=600
if [[ "${1:-}" == "-t" ]]; then
    secs="$2"
    shift 2
fi
cd "$(dirname "$0")/.."
sanitizer="${SANITIZER:-none}"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo fuzz list)
fi
mkdir -p logs
export CARGO_BUILD_JOBS=1
# Every target in one build (the dependencies are compiled once).
nice -n 19 cargo fuzz build -s "$sanitizer" >logs/build.log 2>&1 || {
    tail -20 logs/build.log
    exit 2
}

summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    echo "fuzzing $t for ${secs}s (log: fuzz/logs/$t.log)" >&2
    rc=0
    nice -n 19 cargo fuzz run -s "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 >"logs/$t.log" 2>&1 || rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || true)
    last=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    files=$(find "corpus/$t" -type f | wc -l)
    size=$(du -sk "corpus/$t" | cut -f1)
    after=$(find "artifacts/$t" -type f | wc -l)
    summary+=("| $t | ${runs:-?} | $files files, ${size} KB | ${cov:-?} | ${ft:-?} | $((after - before)) (exit $rc) |")
done

echo "| target | executions | corpus | cov | ft | new crashes |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${summary[@]}"
