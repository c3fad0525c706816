"""Reads what `pathlens live` wrote (a dataset directory) or `pathlens read`
wrote (one file) for capture/tests/live.rs.

  pairs PATH_OR_GLOB   one line per endpoint pair: transport, the two
                       endpoints in sorted order, packets summed over rows
  rows PATH_OR_GLOB    as pairs, then IP bytes summed over rows, the
                       classes and the next hops (either direction) seen
  open DIR             opens every final file under DIR in pyarrow and
                       DuckDB, then the whole dataset as readers glob it
                       (dot-temporaries skipped); prints counts and drops
"""
import glob
import json
import os
import sys

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def pairs(path):
    rows = duckdb.sql(
        f"""select transport, src_ip, src_port, dst_ip, dst_port,
                   src2dst_packets + dst2src_packets
            from read_parquet('{path}')"""
    ).fetchall()
    acc = {}
    for t, sa, sp, da, dp, n in rows:
        a, b = sorted([f"{sa}/{sp}", f"{da}/{dp}"])
        acc[(t, a, b)] = acc.get((t, a, b), 0) + n
    for (t, a, b), n in sorted(acc.items()):
        print(f"{t}\t{a}\t{b}\t{n}")


def rows(path):
    got = duckdb.sql(
        f"""select transport, src_ip, src_port, dst_ip, dst_port,
                   src2dst_packets + dst2src_packets, src2dst_bytes + dst2src_bytes,
                   app_protocol, src2dst_next_hop, dst2src_next_hop
            from read_parquet('{path}')"""
    ).fetchall()
    acc = {}
    for t, sa, sp, da, dp, n, b, app, h1, h2 in got:
        a, z = sorted([f"{sa}/{sp}", f"{da}/{dp}"])
        e = acc.setdefault((t, a, z), [0, 0, set(), set()])
        e[0] += n
        e[1] += b
        e[2].add(app)
        e[3].update(h for h in (h1, h2) if h)
    for (t, a, z), (n, b, apps, hops) in sorted(acc.items()):
        print(f"{t}\t{a}\t{z}\t{n}\t{b}\t{','.join(sorted(apps))}\t{','.join(sorted(hops))}")


def open_all(root):
    files = sorted(glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True))
    rows = 0
    dropped = 0
    for f in files:
        assert not os.path.basename(f).startswith("."), f
        t = pq.read_table(f)
        n = duckdb.sql(f"select count(*) from read_parquet('{f}')").fetchall()[0][0]
        assert n == t.num_rows, (f, n, t.num_rows)
        meta = pq.read_metadata(f).metadata or {}
        live = json.loads(meta.get(b"pathlens.live_counters", b"{}"))
        dropped = max(dropped, live.get("kernel_dropped", 0) + live.get("if_dropped", 0))
        if "/flows/" in f:
            rows += n
    flows = os.path.join(root, "flows")
    glob_rows = 0
    if any("/flows/" in f for f in files):
        glob_rows = duckdb.sql(
            f"select count(*) from read_parquet('{flows}/**/*.parquet', hive_partitioning = true)"
        ).fetchall()[0][0]
        # Each row sits in the partition of its first_seen (UTC).
        bad = duckdb.sql(
            f"""select count(*) from read_parquet('{flows}/**/*.parquet', hive_partitioning = true)
                where cast(date as varchar) <> strftime(first_seen at time zone 'UTC', '%Y-%m-%d')
                   or hour <> extract(hour from first_seen at time zone 'UTC')"""
        ).fetchall()[0][0]
        assert bad == 0, f"{bad} rows outside their partition"
        pa_rows = ds.dataset(flows, format="parquet", partitioning="hive").count_rows()
        assert pa_rows == glob_rows, (pa_rows, glob_rows)
    print(json.dumps({"files": len(files), "rows": rows, "glob_rows": glob_rows, "dropped": dropped}))


if __name__ == "__main__":
    {"pairs": pairs, "rows": rows, "open": lambda p: open_all(p)}[sys.argv[1]](sys.argv[2])
