"""Checks the calls table and the summary's figures by building and subnet
against DuckDB over the written files.

Usage: check_calls.py FLOWS STREAMS CALLS SUMMARY.json
FLOWS, STREAMS and CALLS are DuckDB read_parquet patterns. Prints
'calls ok: N calls' when every call's flows carry its call_id, its streams
are the streams of its media flows, and the summary's per-building and
per-subnet figures equal the same query over the calls table (CQD's
Poor % = poor / (poor + good)).
"""
import json
import sys

import duckdb

flows_glob, streams_glob, calls_glob, summary_path = sys.argv[1:5]
s = json.load(open(summary_path))
con = duckdb.connect()
for name, glob in (("flows", flows_glob), ("streams", streams_glob), ("calls", calls_glob)):
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true)")


def q(sql):
    return con.execute(sql).fetchall()


# Every flow a call names carries its call_id, and no other flow does.
bad = q("""SELECT c.call_id, f.flow_id, f.call_id FROM calls c,
             unnest(string_split(c.flow_ids, ',')) AS t(id)
           JOIN flows f ON f.flow_id = CAST(t.id AS BIGINT)
           WHERE f.call_id IS DISTINCT FROM c.call_id""")
assert not bad, f"flows whose call_id is not their call's: {bad}"
n_named = q("SELECT sum(len(string_split(flow_ids, ','))) FROM calls")[0][0]
n_carry = q("SELECT count(*) FROM flows WHERE call_id IS NOT NULL")[0][0]
assert n_named == n_carry, f"{n_named} flows named by calls, {n_carry} carry a call_id"

# A call's streams and poor streams are those of its flows in the streams table.
bad = q("""WITH per AS (
             SELECT f.call_id, count(*) AS streams,
                    count(*) FILTER (WHERE s.quality = 'poor') AS poor,
                    count(*) FILTER (WHERE s.quality = 'good') AS good
             FROM streams s JOIN flows f USING (run_id, flow_id)
             WHERE f.call_id IS NOT NULL AND s.packets > 0 GROUP BY f.call_id)
           SELECT c.call_id, c.streams, per.streams, c.poor_streams, per.poor
           FROM calls c LEFT JOIN per USING (call_id)
           WHERE c.streams != coalesce(per.streams, 0) OR c.poor_streams != coalesce(per.poor, 0)
              OR c.good_streams != coalesce(per.good, 0)""")
assert not bad, f"calls whose streams disagree with the streams table: {bad}"

places = s["places"]
for table, key in (("by_building", "building"), ("by_subnet", "subnet")):
    rows = q(f"""SELECT coalesce({key}, '-') AS k, count(*) AS calls,
                   count(*) FILTER (WHERE quality = 'poor') AS poor_calls,
                   count(*) FILTER (WHERE one_way_audio) AS one_way_calls,
                   sum(streams) AS streams, sum(poor_streams) AS poor_streams,
                   sum(good_streams) AS good_streams,
                   sum(teams_bytes_expressroute) AS er, sum(teams_bytes_internet) AS inet,
                   count(*) FILTER (WHERE teams AND path_conformant IS NOT NULL) AS judged,
                   count(*) FILTER (WHERE teams AND path_conformant) AS conformant
                 FROM calls GROUP BY k ORDER BY k""")
    want = []
    for k, calls, poor_calls, one_way, streams, poor, good, er, inet, judged, conf in rows:
        want.append({
            key: k, "calls": calls, "poor_calls": poor_calls, "one_way_calls": one_way,
            "streams": int(streams), "poor_streams": int(poor), "good_streams": int(good),
            "poor_pct": (100.0 * poor / (poor + good)) if poor + good else None,
            "teams_bytes_expressroute": int(er), "teams_bytes_internet": int(inet),
            "expressroute_pct": (100.0 * er / (er + inet)) if er + inet else None,
            "teams_calls_judged": judged, "teams_calls_conformant": conf,
            "conformant_pct": (100.0 * conf / judged) if judged else None,
        })
    got = sorted(places[table], key=lambda r: r[key])
    assert len(got) == len(want), f"{table}: {got} != {want}"
    for g, w in zip(got, want):
        for m, v in w.items():
            gv = g[m]
            if isinstance(v, float) or isinstance(gv, float):
                assert v is not None and gv is not None and abs(gv - v) < 1e-9, f"{table} {w[key]} {m}: summary {gv} != duckdb {v}"
            else:
                assert gv == v, f"{table} {w[key]} {m}: summary {gv} != duckdb {v}"
print(f"calls ok: {q('SELECT count(*) FROM calls')[0][0]} calls")
