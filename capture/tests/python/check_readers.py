"""Reads a pathlens flows file with pyarrow, pandas, polars and DuckDB and
checks the types of the output contract (schema.md section 1), then checks
every community_id against the reference `communityid` package. The streams
table beside it (FLOWS.streams.parquet) is read with pyarrow and DuckDB and
joined to the flows on flow_id.

Usage: check_readers.py FLOWS.parquet   (exit 0 when every check passes)
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


INT64 = ["flow_id", "src2dst_packets", "dst2src_packets", "src2dst_bytes", "dst2src_bytes",
         "src2dst_payload_bytes", "dst2src_payload_bytes", "bidirectional_packets",
         "bidirectional_bytes", "truncated_packets"]
INT32 = ["src_port", "dst_port", "vlan_id"]
INT16 = ["ip_proto", "icmp_type", "icmp_code", "src2dst_tcp_flags", "dst2src_tcp_flags"]
INT8 = ["ip_version"]
DICT = ["run_id", "sensor", "interface", "end_reason", "transport", "conn_state", "app_protocol",
        "app_protocol_source", "direction", "egress_label", "traffic_type", "tls_version", "sip_method",
        "service", "egress", "egress_list", "o365_service_area", "o365_category",
        "src2dst_next_hop", "dst2src_next_hop", "expected_path"]
STR = ["community_id", "src_ip", "dst_ip", "server_name", "egress_prefix", "alpn", "sip_user_agent",
       "path_note"]
BOOL = ["local_src", "local_dst", "starttls", "stun_seen", "media_over_tcp"]
# Egress columns that are null when unknown (schema.md section 3).
NULLABLE_INT32 = ["o365_endpoint_id"]
NULLABLE_BOOL = ["o365_expressroute", "asymmetric", "path_conformant"]
TS = ["first_seen", "last_seen"]

# pyarrow
t = pq.read_table(path)
s = t.schema
for c in INT64:
    check(s.field(c).type == pa.int64(), f"pyarrow {c}: {s.field(c).type}")
for c in INT32:
    check(s.field(c).type == pa.int32(), f"pyarrow {c}: {s.field(c).type}")
for c in INT16:
    check(s.field(c).type == pa.int16(), f"pyarrow {c}: {s.field(c).type}")
check(s.field("ip_version").type == pa.int8(), "pyarrow ip_version")
check(s.field("duration_s").type == pa.float64(), "pyarrow duration_s")
for c in TS:
    check(s.field(c).type == pa.timestamp("us", tz="UTC"), f"pyarrow {c}: {s.field(c).type}")
for c in DICT:
    ty = s.field(c).type
    check(pa.types.is_dictionary(ty) and ty.value_type == pa.string(), f"pyarrow {c}: {ty}")
for c in STR:
    check(s.field(c).type == pa.string(), f"pyarrow {c}: {s.field(c).type}")
for c in BOOL + NULLABLE_BOOL:
    check(s.field(c).type == pa.bool_(), f"pyarrow {c}: {s.field(c).type}")
for c in NULLABLE_INT32:
    check(s.field(c).type == pa.int32(), f"pyarrow {c}: {s.field(c).type}")
check(t.column("egress").null_count == 0, "pyarrow egress has nulls")
for c in INT64 + INT32 + INT16 + INT8 + BOOL + TS:
    check(t.column(c).null_count == 0, f"pyarrow {c} has nulls")
meta = pq.read_metadata(path).metadata
check(meta.get(b"pathlens.schema_version") == b"2", "schema version metadata")
counters = json.loads(meta[b"pathlens.counters"])
check(counters["records_written"] == t.num_rows, f"rows {t.num_rows} vs counters {counters['records_written']}")
check(pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD", "zstd compression")

# pandas with its default backend: no float-converted counters, no object booleans
df = pd.read_parquet(path)
for c in INT64:
    check(str(df[c].dtype) == "int64", f"pandas {c}: {df[c].dtype}")
for c in INT32:
    check(str(df[c].dtype) == "int32", f"pandas {c}: {df[c].dtype}")
for c in INT16:
    check(str(df[c].dtype) == "int16", f"pandas {c}: {df[c].dtype}")
check(str(df["ip_version"].dtype) == "int8", f"pandas ip_version: {df['ip_version'].dtype}")
for c in BOOL:
    check(str(df[c].dtype) == "bool", f"pandas {c}: {df[c].dtype}")
for c in TS:
    check(str(df[c].dtype) == "datetime64[us, UTC]", f"pandas {c}: {df[c].dtype}")
for c in DICT:
    check(str(df[c].dtype) == "category", f"pandas {c}: {df[c].dtype}")
check((df["bidirectional_packets"] == df["src2dst_packets"] + df["dst2src_packets"]).all(), "pandas totals")

# polars
p = pl.read_parquet(path)
check(p.schema["first_seen"] == pl.Datetime("us", "UTC"), f"polars first_seen: {p.schema['first_seen']}")
check(p.schema["src2dst_bytes"] == pl.Int64, "polars Int64")
check(p.schema["dst_port"] == pl.Int32, "polars Int32")
check(p.schema["ip_proto"] == pl.Int16, "polars Int16")
check(p.schema["ip_version"] == pl.Int8, "polars Int8")
check(p.schema["local_src"] == pl.Boolean, "polars Boolean")
for c in DICT:
    check(p.schema[c] in (pl.Categorical, pl.Utf8) or isinstance(p.schema[c], pl.Categorical),
          f"polars {c}: {p.schema[c]}")
check(p.height == t.num_rows, "polars rows")

# DuckDB
con = duckdb.connect()
types = dict(con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall() and
             [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()])
want = {"first_seen": "TIMESTAMP WITH TIME ZONE", "flow_id": "BIGINT", "src_port": "INTEGER",
        "ip_proto": "SMALLINT", "ip_version": "TINYINT", "local_src": "BOOLEAN",
        "app_protocol": "VARCHAR", "src_ip": "VARCHAR", "duration_s": "DOUBLE"}
for c, ty in want.items():
    check(types.get(c) == ty, f"duckdb {c}: {types.get(c)}")
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
    elif proto in (1, 58) and r["icmp_type"] >= 0:
        ctor = communityid.FlowTuple.make_icmp if proto == 1 else communityid.FlowTuple.make_icmp6
        tup = ctor(r["src_ip"], r["dst_ip"], r["icmp_type"], r["icmp_code"])
    else:
        tup = communityid.FlowTuple(proto, r["src_ip"], r["dst_ip"])
    want_id = cid.calc(tup)
    check(want_id == r["community_id"], f"community_id {r} expected {want_id}")
    checked += 1
    ipaddress.ip_address(r["src_ip"])  # addresses parse

# Media columns of the flows table (schema.md section 3).
MEDIA_INT = {"rtp_ssrc_count": pa.int32(), "rtp_payload_type": pa.int16(),
             "src2dst_rtp_packets_lost": pa.int64(), "dst2src_rtp_packets_lost": pa.int64(),
             "src2dst_rtp_reordered": pa.int64(), "dst2src_rtp_reordered": pa.int64(),
             "src2dst_rtp_duplicates": pa.int64(), "dst2src_rtp_duplicates": pa.int64(),
             "rtp_overflow_packets": pa.int64()}
MEDIA_F64 = ["src2dst_rtp_loss_pct", "dst2src_rtp_loss_pct", "src2dst_jitter_mean_ms",
             "dst2src_jitter_mean_ms", "src2dst_jitter_max_ms", "dst2src_jitter_max_ms",
             "rtcp_rtt_ms", "rtcp_fraction_lost"]
for c, ty in MEDIA_INT.items():
    check(s.field(c).type == ty, f"pyarrow {c}: {s.field(c).type}")
    check(t.column(c).null_count == 0, f"pyarrow {c} has nulls")
for c in MEDIA_F64:
    check(s.field(c).type == pa.float64(), f"pyarrow {c}: {s.field(c).type}")
for c in ["codec", "media_quality"]:
    ty = s.field(c).type
    check(pa.types.is_dictionary(ty) and ty.value_type == pa.string(), f"pyarrow {c}: {ty}")
check(s.names.index("egress") == s.names.index("service") + 1, "egress columns follow service")
check(s.names.index("rtp_ssrc_count") == s.names.index("path_note") + 1, "media columns follow the egress block")

# The streams table: pyarrow types, then a DuckDB join on flow_id.
spath = path[: -len(".parquet")] + ".streams.parquet" if path.endswith(".parquet") else path + ".streams.parquet"
st = pq.read_table(spath)
ss = st.schema
for c in ["flow_id", "ssrc", "packets", "expected", "lost", "duplicates", "reordered"]:
    check(ss.field(c).type == pa.int64(), f"streams pyarrow {c}: {ss.field(c).type}")
for c in ["first_seen", "last_seen"]:
    check(ss.field(c).type == pa.timestamp("us", tz="UTC"), f"streams pyarrow {c}")
for c in ["direction", "codec", "clock_source", "quality", "run_id"]:
    check(pa.types.is_dictionary(ss.field(c).type), f"streams pyarrow {c}: {ss.field(c).type}")
check(pq.read_metadata(spath).metadata.get(b"pathlens.schema_version") == b"2", "streams metadata")
orphans, joined, non_media = con.execute(f"""
    SELECT count(*) FILTER (WHERE f.flow_id IS NULL),
           count(*) FILTER (WHERE f.flow_id IS NOT NULL),
           count(*) FILTER (WHERE f.rtp_ssrc_count < 0)
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
