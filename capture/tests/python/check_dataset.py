"""A pathlens dataset directory (`-w DIR/`) reads in DuckDB, polars, pyarrow
and pandas with hive partitioning, holding exactly the rows of the same run
written as one file. Usage: check_dataset.py DIR ONE.parquet"""

import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds

root, single = sys.argv[1], sys.argv[2]
single_streams = single.removesuffix(".parquet") + ".streams.parquet"
flows_glob = f"{root}/flows/**/*.parquet"
streams_glob = f"{root}/streams/**/*.parquet"


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)


want_ids = sorted(pd.read_parquet(single)["flow_id"].tolist())
want_join = duckdb.sql(
    f"SELECT count(*) FROM '{single_streams}' s JOIN '{single}' f USING (flow_id)"
).fetchall()[0][0]

# DuckDB: glob with hive partitioning; hour is an integer, date a date.
con = duckdb.connect()
rel = con.sql(f"SELECT * FROM read_parquet('{flows_glob}', hive_partitioning = true)")
types = dict(zip(rel.columns, [str(t) for t in rel.types]))
check(types.get("hour") == "BIGINT", f"duckdb hour type {types.get('hour')}")
check(types.get("date") == "DATE", f"duckdb date type {types.get('date')}")
ids = sorted(r[0] for r in con.sql(f"SELECT flow_id FROM read_parquet('{flows_glob}')").fetchall())
check(ids == want_ids, "duckdb flow ids")
mismatch = con.sql(
    f"""SELECT count(*) FROM read_parquet('{flows_glob}', hive_partitioning = true)
        WHERE hour != hour(first_seen AT TIME ZONE 'UTC')
           OR date != CAST(first_seen AT TIME ZONE 'UTC' AS DATE)"""
).fetchall()[0][0]
check(mismatch == 0, f"{mismatch} rows outside their partition")
join = con.sql(
    f"""SELECT count(*) FROM read_parquet('{streams_glob}', hive_partitioning = true) s
        JOIN read_parquet('{flows_glob}', hive_partitioning = true) f
        USING (run_id, flow_id, date, hour)"""
).fetchall()[0][0]
check(join == want_join, f"duckdb streams join {join} != {want_join}")

# polars: lazy scan with hive partitioning.
lf = pl.scan_parquet(flows_glob, hive_partitioning=True)
df = lf.select("flow_id", "hour").collect()
check(sorted(df["flow_id"].to_list()) == want_ids, "polars flow ids")
check(df.schema["hour"].is_integer(), f"polars hour {df.schema['hour']}")

# pyarrow: a hive dataset of the flows directory.
t = ds.dataset(f"{root}/flows", format="parquet", partitioning="hive").to_table()
check(sorted(t.column("flow_id").to_pylist()) == want_ids, "pyarrow flow ids")
check("hour" in t.column_names, "pyarrow sees the hour partition")

# pandas: the directory itself.
p = pd.read_parquet(f"{root}/flows")
check(sorted(p["flow_id"].tolist()) == want_ids, "pandas flow ids")

print(f"dataset ok: {len(want_ids)} flows, {want_join} streams")
