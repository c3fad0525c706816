"""Checks `pathlens summary --format json` against DuckDB over the same files.

Usage: check_summary.py FLOWS STREAMS SUMMARY.json [WHERE]
FLOWS and STREAMS are DuckDB read_parquet patterns (a file, or a dataset's
'DIR/flows/**/*.parquet'). Prints 'summary ok: N flows' when every figure
agrees: totals, by app and transport, by traffic type and egress, path
counts, top services and server names, media percentiles (nearest rank) and
poor streams by egress. WHERE (SQL over the flows) is the time range the
summary was given.
"""
import json
import math
import sys

import duckdb

flows_glob, streams_glob, summary_path = sys.argv[1:4]
where = sys.argv[4] if len(sys.argv) > 4 else "true"
s = json.load(open(summary_path))
con = duckdb.connect()
con.execute(f"CREATE VIEW flows AS SELECT * FROM read_parquet('{flows_glob}', hive_partitioning = true, union_by_name = true) WHERE {where}")
con.execute(f"CREATE VIEW streams AS SELECT * FROM read_parquet('{streams_glob}', hive_partitioning = true, union_by_name = true)")


def q(sql):
    return con.execute(sql).fetchall()


def check(name, got, want):
    assert got == want, f"{name}: summary {got} != duckdb {want}"


flows, packets, bytes_ = q("SELECT count(*), sum(bidirectional_packets), sum(bidirectional_bytes) FROM flows")[0]
check("total", s["total"], {"flows": flows, "packets": packets, "bytes": bytes_})


def grouped(keys, sql_keys):
    rows = q(f"""SELECT {sql_keys}, count(*) AS f, sum(bidirectional_packets) AS p, sum(bidirectional_bytes) AS b
                 FROM flows GROUP BY ALL ORDER BY b DESC, {sql_keys}""")
    return [dict(zip(keys + ["flows", "packets", "bytes"], r)) for r in rows]


check("by_app", s["by_app"], grouped(["app_protocol", "transport"], "app_protocol::VARCHAR, transport::VARCHAR"))
# The path a flow is counted under: the observed one, else the prediction, labelled.
PATH = "coalesce(observed_egress::VARCHAR, egress::VARCHAR || ' (predicted)')"
check("by_egress", s["by_egress"], grouped(["traffic_type", "egress"], f"traffic_type::VARCHAR, {PATH}"))
asym, measured, nonconf, expect, observed, predicted = q("""SELECT count(*) FILTER (WHERE "asymmetric"), count("asymmetric"),
                                    count(*) FILTER (WHERE NOT path_conformant), count(expected_path),
                                    count(path_conformant) FILTER (WHERE expected_path IS NOT NULL),
                                    count(*) FILTER (WHERE expected_path IS NOT NULL AND path_conformant IS NULL) FROM flows""")[0]
check("paths", s["paths"], {"asymmetric": asym, "asymmetry_measured": measured, "non_conformant": nonconf,
                            "with_expectation": expect, "judged_observed": observed, "expected_only": predicted})
check("flagged_total", s["flagged_total"], q('SELECT count(*) FROM flows WHERE "asymmetric" OR NOT path_conformant')[0][0])


def top(col, where=""):
    rows = q(f"""SELECT coalesce({col}::VARCHAR, '-') AS k, count(*), sum(bidirectional_packets), sum(bidirectional_bytes) AS b
                 FROM flows {where} GROUP BY ALL ORDER BY b DESC, k LIMIT 10""")
    return [{col: k, "flows": f, "packets": p, "bytes": b} for k, f, p, b in rows]


check("services", s["services"], top("service"))
check("server_names", s["server_names"], top("server_name", "WHERE server_name IS NOT NULL"))


def nearest_rank(values, p):
    v = sorted(x for x in values if x is not None)
    return v[max(math.ceil(p / 100 * len(v)), 1) - 1] if v else None


# The percentiles are of each stream's worst counted 15 s window (null
# without one): Microsoft compares the 90th percentile with its targets.
media = q("""SELECT coalesce(f.observed_egress::VARCHAR, f.egress::VARCHAR || ' (predicted)') AS egress, count(*) AS n,
                    count(s.loss_max_window_pct),
                    list(s.loss_max_window_pct), list(s.jitter_max_window_ms),
                    count(s.quality), count(*) FILTER (WHERE s.quality = 'poor'),
                    """ + ", ".join(
    f"list_sort(list(s.loss_max_window_pct))[greatest(ceil({p} / 100 * count(s.loss_max_window_pct)), 1)::BIGINT]"
    for p in (50, 90, 95)) + """
             FROM streams s JOIN flows f USING (run_id, flow_id)
             WHERE s.packets > 0 GROUP BY ALL ORDER BY egress""")
want = []
for egress, n, windowed, loss, jitter, judged, poor, l50, l90, l95 in media:
    row = {"egress": egress, "streams": n, "windowed": windowed}
    for p, sql_loss in ((50, l50), (90, l90), (95, l95)):
        assert nearest_rank(loss, p) == sql_loss
        row[f"loss_window_p{p}"] = sql_loss
        row[f"jitter_window_p{p}"] = nearest_rank(jitter, p)
    row.update({"judged": judged, "poor": poor})
    want.append(row)
got = [{k: m[k] for k in want[0]} for m in s["media"]] if want else s["media"]
for g, w in zip(got, want):
    for k in w:
        if isinstance(w[k], float):
            assert g[k] is not None and abs(g[k] - w[k]) < 1e-9, f"media {k}: {g[k]} != {w[k]}"
        else:
            check(f"media {k}", g[k], w[k])
check("media groups", len(got), len(want))
print(f"summary ok: {flows} flows, {sum(m['streams'] for m in s['media'])} streams")
