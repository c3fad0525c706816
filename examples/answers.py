# %% [markdown]
# # Three questions about a site's Office 365 traffic
#
# pathlens writes one Parquet row per flow (`OUT.parquet`) and one per RTP
# stream (`OUT.streams.parquet`), or a Hive-partitioned dataset
# (`DIR/flows/date=…/hour=…/`, `DIR/streams/…`). This notebook loads either
# with DuckDB and polars and answers:
#
# 1. How much media went over the Internet instead of ExpressRoute?
# 2. Which local subnets have poor calls?
# 3. Which flows are asymmetric or non-conformant to the call-flow principles?
#
# Run it as a script (`python3 examples/answers.py sample.parquet`), or open
# `answers.ipynb` (the same cells) in Jupyter and set `FLOWS` in the first cell.

# %%
import ipaddress
import json
import sys

import duckdb
import polars as pl

FLOWS = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "sample.parquet"
# A dataset directory reads with a glob and its partitions as columns.
if FLOWS.endswith(".parquet"):
    flows_src, streams_src = FLOWS, FLOWS[: -len(".parquet")] + ".streams.parquet"
else:
    flows_src, streams_src = f"{FLOWS}/flows/**/*.parquet", f"{FLOWS}/streams/**/*.parquet"
con = duckdb.connect()
con.execute(f"CREATE VIEW flows AS SELECT * FROM read_parquet('{flows_src}', hive_partitioning = true)")
con.execute(f"CREATE VIEW streams AS SELECT * FROM read_parquet('{streams_src}', hive_partitioning = true)")
flows = pl.read_parquet(flows_src, hive_partitioning=True)
streams = pl.read_parquet(streams_src, hive_partitioning=True)
answers = {}

# %% [markdown]
# ## 1. Media over the Internet instead of ExpressRoute
#
# `traffic_type = 'media'` is RTP/SRTP/RTCP (and media over TURN); `egress`
# says which way the remote end is reached. Media that could take the
# circuit but went out to the Internet shows as `internet`.

# %%
media = con.sql("""
    SELECT egress::VARCHAR AS egress, count(*) AS flows, sum(bidirectional_bytes) AS bytes
    FROM flows WHERE traffic_type = 'media'
    GROUP BY ALL ORDER BY bytes DESC
""").pl()
print(media)
by_egress = dict(zip(media["egress"], media["bytes"]))
off_circuit = int(by_egress.get("internet", 0))
remote = off_circuit + int(by_egress.get("expressroute", 0))
answers["media_bytes_by_egress"] = {k: int(v) for k, v in by_egress.items()}
answers["media_internet_share"] = round(off_circuit / remote, 4) if remote else 0.0
print(f"media over the Internet: {off_circuit} bytes, {answers['media_internet_share']:.1%} of media leaving the site")

# %% [markdown]
# ## 2. Local subnets with poor calls
#
# Each stream row has `quality` (`good`/`poor` against Microsoft's targets,
# null when too short to judge); its flow gives the local endpoint. Group by
# the local end's /24 (IPv4) or /64 (IPv6) with polars.

# %%
def subnet(ip: str) -> str:
    a = ipaddress.ip_address(ip)
    return str(ipaddress.ip_network(f"{ip}/{24 if a.version == 4 else 64}", strict=False))


local = flows.select(
    "run_id", "flow_id",
    pl.when(pl.col("local_src")).then(pl.col("src_ip")).otherwise(pl.col("dst_ip")).alias("local_ip"),
    (pl.col("local_src") | pl.col("local_dst")).alias("has_local"),
).filter(pl.col("has_local"))
calls = (
    streams.filter(pl.col("packets") > 0)
    .with_columns(pl.col("run_id").cast(pl.String))
    .join(local.with_columns(pl.col("run_id").cast(pl.String)), on=["run_id", "flow_id"])
    .with_columns(pl.col("local_ip").map_elements(subnet, return_dtype=pl.String).alias("subnet"))
    .group_by("subnet")
    .agg(
        pl.len().alias("streams"),
        (pl.col("quality").cast(pl.String) == "poor").sum().alias("poor"),
        pl.col("loss_pct").max().alias("worst_loss_pct"),
        pl.col("jitter_mean_ms").max().alias("worst_jitter_ms"),
    )
    .sort(["poor", "streams", "subnet"], descending=[True, True, False])
)
print(calls)
answers["subnets"] = {r["subnet"]: {"streams": r["streams"], "poor": r["poor"]} for r in calls.iter_rows(named=True)}
answers["subnets_with_poor_calls"] = [r["subnet"] for r in calls.iter_rows(named=True) if r["poor"] > 0]

# %% [markdown]
# ## 3. Asymmetric and non-conformant flows
#
# `asymmetric` is true when the reply came back through another edge;
# `path_conformant` is false when the observed path is not what the
# call-flow principles predict (`expected_path`), with the reason in
# `path_note`. Both are null when pathlens had no evidence to judge.

# %%
flagged = con.sql("""
    SELECT first_seen, src_ip, dst_ip, dst_port, app_protocol::VARCHAR AS app, egress::VARCHAR AS egress,
           expected_path::VARCHAR AS expected, src2dst_next_hop::VARCHAR AS out_edge,
           dst2src_next_hop::VARCHAR AS back_edge, "asymmetric", path_conformant, path_note
    FROM flows WHERE "asymmetric" OR NOT path_conformant
    ORDER BY bidirectional_bytes DESC
""").pl()
print(flagged)
judged = con.execute("""SELECT count(expected_path), count("asymmetric") FROM flows""").fetchone()
answers["flagged_flows"] = flagged.height
answers["flows_with_expectation"] = judged[0]
answers["flows_with_edge_evidence"] = judged[1]

# %%
print("answers: " + json.dumps(answers, sort_keys=True))
