"""Which building has poor calls, and does its Teams traffic take ExpressRoute?

pathlens writes one row per call (`OUT.calls.parquet`, or `DIR/calls/` of a
dataset) with the client's building from the CQD building file
(`--buildings`, or `buildings =` in the site config). This script answers
the question twice, in DuckDB SQL and in pandas, the way CQD counts:
Poor % = poor / (poor + good) streams, unjudged streams left out.

    python3 examples/calls_by_building.py sample.parquet

It prints both tables and a last line `calls_by_building: {...}` (JSON, per
building) after checking that the two agree.
"""
import json
import sys

import duckdb
import pandas as pd

FLOWS = sys.argv[1] if len(sys.argv) > 1 else "sample.parquet"
if FLOWS.endswith(".parquet"):
    calls_src = FLOWS[: -len(".parquet")] + ".calls.parquet"
else:
    calls_src = f"{FLOWS}/calls/**/*.parquet"

# DuckDB: one query over the calls table.
by_sql = duckdb.sql(f"""
    SELECT coalesce(building, '-') AS building,
           count(*) AS calls,
           count(*) FILTER (WHERE one_way_audio) AS one_way_calls,
           sum(streams)::BIGINT AS streams,
           sum(poor_streams)::BIGINT AS poor_streams,
           round(100.0 * sum(poor_streams) / nullif(sum(poor_streams) + sum(good_streams), 0), 1) AS poor_pct,
           round(100.0 * sum(teams_bytes_expressroute)
                 / nullif(sum(teams_bytes_expressroute) + sum(teams_bytes_internet), 0), 1) AS expressroute_pct,
           count(*) FILTER (WHERE path_conformant = false) AS calls_off_path
    FROM read_parquet('{calls_src}', hive_partitioning = true)
    GROUP BY ALL ORDER BY building
""").df()
print(by_sql.to_string(index=False))

# pandas: the same from the file.
calls = pd.read_parquet(calls_src, dtype_backend="pyarrow") if calls_src.endswith(".parquet") else \
    pd.read_parquet(FLOWS + "/calls", dtype_backend="pyarrow")
calls["building"] = calls["building"].astype("string").fillna("-")
g = calls.groupby("building", observed=True)
by_pd = pd.DataFrame({
    "calls": g.size(),
    "one_way_calls": g["one_way_audio"].apply(lambda s: int(s.fillna(False).sum())),
    "streams": g["streams"].sum(),
    "poor_streams": g["poor_streams"].sum(),
    "good_streams": g["good_streams"].sum(),
    "er": g["teams_bytes_expressroute"].sum(),
    "inet": g["teams_bytes_internet"].sum(),
    "calls_off_path": g["path_conformant"].apply(lambda s: int((s == False).sum())),  # noqa: E712
}).reset_index()
judged = by_pd["poor_streams"] + by_pd["good_streams"]
by_pd["poor_pct"] = (100.0 * by_pd["poor_streams"] / judged.where(judged > 0)).round(1)
left = by_pd["er"] + by_pd["inet"]
by_pd["expressroute_pct"] = (100.0 * by_pd["er"] / left.where(left > 0)).round(1)
by_pd = by_pd.sort_values("building")
print(by_pd[["building", "calls", "one_way_calls", "streams", "poor_streams", "poor_pct",
             "expressroute_pct", "calls_off_path"]].to_string(index=False))


def num(v):
    return None if pd.isna(v) else float(v)


answers = {}
for (_, a), (_, b) in zip(by_sql.iterrows(), by_pd.iterrows()):
    assert a["building"] == b["building"]
    for col in ("calls", "one_way_calls", "streams", "poor_streams", "calls_off_path"):
        assert int(a[col]) == int(b[col]), (a["building"], col, a[col], b[col])
    for col in ("poor_pct", "expressroute_pct"):
        assert num(a[col]) == num(b[col]), (a["building"], col, a[col], b[col])
    answers[a["building"]] = {
        "calls": int(a["calls"]),
        "one_way_calls": int(a["one_way_calls"]),
        "streams": int(a["streams"]),
        "poor_streams": int(a["poor_streams"]),
        "poor_pct": num(a["poor_pct"]),
        "expressroute_pct": num(a["expressroute_pct"]),
    }
print("calls_by_building: " + json.dumps(answers, sort_keys=True))
