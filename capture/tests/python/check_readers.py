"""Reads a pathlens flows file with pyarrow, pandas, polars and DuckDB and
checks the columns and types of the output contract (export/SCHEMA.md, "Why these types")
against COLUMNS.json, which the Rust test writes from the column
declarations, then checks
every community_id against the reference `communityid` package. The streams
table beside it (FLOWS.streams.parquet) is read with pyarrow and DuckDB and
joined to the flows on flow_id.

Usage: check_readers.py FLOWS.parquet COLUMNS.json   (exit 0 when every check passes)
"""
import ipaddress
import json
import sys

import communityid
import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

path = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


# The declared columns (from the Rust column declarations): name, type as
# SCHEMA.md writes it, nullability.
with open(sys.argv[2]) as f:
    declared = json.load(f)
FLOWS = declared["flows"]
STREAMS = declared["streams"]

PYARROW = {"Int8": pa.int8(), "Int16": pa.int16(), "Int32": pa.int32(), "Int64": pa.int64(),
           "Float64": pa.float64(), "Boolean": pa.bool_(), "Utf8": pa.string(),
           "Timestamp(µs, UTC)": pa.timestamp("us", tz="UTC")}
# pandas' default backend keeps these dtypes only without nulls, which the
# contract promises for every non-nullable column.
PANDAS = {"Int8": "int8", "Int16": "int16", "Int32": "int32", "Int64": "int64", "Boolean": "bool",
          "Timestamp(µs, UTC)": "datetime64[us, UTC]", "Dict Utf8": "category"}
POLARS = {"Int8": pl.Int8, "Int16": pl.Int16, "Int32": pl.Int32, "Int64": pl.Int64,
          "Float64": pl.Float64, "Boolean": pl.Boolean, "Utf8": pl.Utf8,
          "Timestamp(µs, UTC)": pl.Datetime("us", "UTC")}
DUCKDB = {"Int8": "TINYINT", "Int16": "SMALLINT", "Int32": "INTEGER", "Int64": "BIGINT",
          "Float64": "DOUBLE", "Boolean": "BOOLEAN", "Utf8": "VARCHAR", "Dict Utf8": "VARCHAR",
          "Timestamp(µs, UTC)": "TIMESTAMP WITH TIME ZONE"}


def check_pyarrow(t, columns, what):
    """Column names in order, each column's type, no nulls where none are allowed."""
    s = t.schema
    check(s.names == [c["name"] for c in columns], f"{what} columns: {s.names}")
    for c in columns:
        name, ty = c["name"], s.field(c["name"]).type
        if c["type"] == "Dict Utf8":
            check(pa.types.is_dictionary(ty) and ty.value_type == pa.string(), f"{what} pyarrow {name}: {ty}")
        else:
            check(ty == PYARROW[c["type"]], f"{what} pyarrow {name}: {ty}")
        if not c["nullable"]:
            check(t.column(name).null_count == 0, f"{what} pyarrow {name} has nulls")


# pyarrow
t = pq.read_table(path)
check_pyarrow(t, FLOWS, "flows")
meta = pq.read_metadata(path).metadata
check(meta.get(b"pathlens.schema_version") == b"3", "schema version metadata")
counters = json.loads(meta[b"pathlens.counters"])
check(counters["records_written"] == t.num_rows, f"rows {t.num_rows} vs counters {counters['records_written']}")
check(pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD", "zstd compression")

# pandas with its default backend: no float-converted counters, no object booleans
df = pd.read_parquet(path)
for c in FLOWS:
    want = PANDAS.get(c["type"])
    if want and (not c["nullable"] or c["type"] == "Dict Utf8"):
        check(str(df[c["name"]].dtype) == want, f"pandas {c['name']}: {df[c['name']].dtype}")
check((df["bidirectional_packets"] == df["src2dst_packets"] + df["dst2src_packets"]).all(), "pandas totals")

# Nulls, never sentinels (export/SCHEMA.md, "Why these types"): one nullable column of each
# kind reads back with the same nulls and exact types in pandas (with the
# pyarrow backend, as the README shows), polars and DuckDB as in pyarrow.
NULLABLE = {"icmp_type": ("int16[pyarrow]", pl.Int16, "SMALLINT"),
            "rtp_ssrc_count": ("int32[pyarrow]", pl.Int32, "INTEGER"),
            "src2dst_rtp_packets_lost": ("int64[pyarrow]", pl.Int64, "BIGINT"),
            "rtcp_rtt_ms": ("double[pyarrow]", pl.Float64, "DOUBLE"),
            "asymmetric": ("bool[pyarrow]", pl.Boolean, "BOOLEAN"),
            "server_name": ("string[pyarrow]", pl.Utf8, "VARCHAR"),
            "codec": (None, None, "VARCHAR")}
dfa = pd.read_parquet(path, dtype_backend="pyarrow")
pol = pl.read_parquet(path)
ddb = duckdb.connect()
for name, (pd_type, pl_type, duck_type) in NULLABLE.items():
    nulls = t.column(name).null_count
    if pd_type:
        check(str(dfa[name].dtype) == pd_type, f"pandas pyarrow backend {name}: {dfa[name].dtype}")
    check(int(dfa[name].isna().sum()) == nulls, f"pandas {name} nulls {dfa[name].isna().sum()} vs {nulls}")
    if pl_type:
        check(pol.schema[name] == pl_type, f"polars {name}: {pol.schema[name]}")
    check(pol[name].null_count() == nulls, f"polars {name} nulls {pol[name].null_count()} vs {nulls}")
    dn, dt = ddb.execute(f'SELECT count(*) FILTER (WHERE "{name}" IS NULL), typeof(any_value("{name}")) '
                         f"FROM read_parquet('{path}')").fetchone()
    check(dn == nulls, f"duckdb {name} nulls {dn} vs {nulls}")
    check(dt == duck_type, f"duckdb {name}: {dt}")
    # Without a site config no edge is known, so `asymmetric` may be all null.
    check(nulls > 0 and (nulls < t.num_rows or name == "asymmetric") or t.num_rows < 20,
          f"{name}: {nulls} nulls of {t.num_rows}: nothing to check")
# Integer columns that were sentinels up to schema 2: no -1 left.
for name in ["icmp_type", "icmp_code", "rtp_ssrc_count", "rtp_payload_type", "src2dst_rtp_packets_lost",
             "dst2src_rtp_packets_lost", "src2dst_rtp_reordered", "dst2src_rtp_duplicates", "rtp_overflow_packets"]:
    (neg,) = ddb.execute(f"""SELECT count(*) FROM read_parquet('{path}') WHERE "{name}" < 0""").fetchone()
    check(neg == 0, f"{name}: {neg} negative values")
# A sum over a file mixing media and non-media flows counts only media flows.
lost_sql, media_rows = ddb.execute(f"SELECT sum(src2dst_rtp_packets_lost), count(src2dst_rtp_packets_lost) "
                                   f"FROM read_parquet('{path}')").fetchone()
lost_py = sum(v for v in t.column("src2dst_rtp_packets_lost").to_pylist() if v is not None)
check(media_rows == 0 or lost_sql == lost_py, f"sum(src2dst_rtp_packets_lost) {lost_sql} vs {lost_py}")
check(lost_sql is None or lost_sql >= 0, f"sum(src2dst_rtp_packets_lost) {lost_sql} < 0")

# polars
p = pl.read_parquet(path)
for c in FLOWS:
    got = p.schema[c["name"]]
    if c["type"] == "Dict Utf8":
        check(got in (pl.Categorical, pl.Utf8) or isinstance(got, pl.Categorical), f"polars {c['name']}: {got}")
    else:
        check(got == POLARS[c["type"]], f"polars {c['name']}: {got}")
check(p.height == t.num_rows, "polars rows")

# DuckDB
con = duckdb.connect()
types = dict(con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall() and
             [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()])
for c in FLOWS:
    check(types.get(c["name"]) == DUCKDB[c["type"]], f"duckdb {c['name']}: {types.get(c['name'])}")
n, b = con.execute(f"SELECT count(*), sum(bidirectional_bytes) FROM read_parquet('{path}')").fetchone()
check(n == t.num_rows and b == int(df["bidirectional_bytes"].sum()), "duckdb aggregates")

# Community ID against the reference implementation.
cid = communityid.CommunityID(seed=0)
checked = 0
for r in t.select(["src_ip", "dst_ip", "src_port", "dst_port", "ip_proto", "icmp_type", "icmp_code",
                   "community_id"]).to_pylist():
    proto = r["ip_proto"]
    if proto in (6, 17, 132):
        ctor = {6: communityid.FlowTuple.make_tcp, 17: communityid.FlowTuple.make_udp,
                132: communityid.FlowTuple.make_sctp}[proto]
        tup = ctor(r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"])
    elif proto in (1, 58) and r["icmp_type"] is not None:
        ctor = communityid.FlowTuple.make_icmp if proto == 1 else communityid.FlowTuple.make_icmp6
        tup = ctor(r["src_ip"], r["dst_ip"], r["icmp_type"], r["icmp_code"])
    else:
        tup = communityid.FlowTuple(proto, r["src_ip"], r["dst_ip"])
    want_id = cid.calc(tup)
    check(want_id == r["community_id"], f"community_id {r} expected {want_id}")
    checked += 1
    ipaddress.ip_address(r["src_ip"])  # addresses parse

# The streams table: pyarrow types, then a DuckDB join on flow_id.
spath = path[: -len(".parquet")] + ".streams.parquet" if path.endswith(".parquet") else path + ".streams.parquet"
st = pq.read_table(spath)
check_pyarrow(st, STREAMS, "streams")
check(pq.read_metadata(spath).metadata.get(b"pathlens.schema_version") == b"3", "streams metadata")
orphans, joined, non_media = con.execute(f"""
    SELECT count(*) FILTER (WHERE f.flow_id IS NULL),
           count(*) FILTER (WHERE f.flow_id IS NOT NULL),
           count(*) FILTER (WHERE f.rtp_ssrc_count IS NULL)
    FROM read_parquet('{spath}') s LEFT JOIN read_parquet('{path}') f USING (flow_id)""").fetchone()
check(orphans == 0, f"{orphans} stream rows join no flow")
check(non_media == 0, f"{non_media} stream rows join a non-media flow")
check(joined == st.num_rows, "duckdb streams rows")
with_rtp = con.execute(f"SELECT count(*) FROM read_parquet('{path}') WHERE rtp_ssrc_count > 0").fetchone()[0]
check(st.num_rows == 0 or with_rtp > 0, "streams but no flow with RTP")

if failures:
    print(f"{len(failures)} failed checks:")
    for f in failures[:50]:
        print("  " + f)
    sys.exit(1)
print(f"readers ok: {t.num_rows} rows, {checked} community ids checked, {st.num_rows} streams joined")
