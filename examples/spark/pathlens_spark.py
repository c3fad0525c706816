"""Scale pathlens out over a Spark cluster: every executor runs `pathlens read`
on its share of the capture files into one Hive-partitioned dataset, then
Spark SQL aggregates the dataset.

    spark-submit examples/spark/pathlens_spark.py \
        --pathlens /opt/pathlens/bin/pathlens --out /shared/pathlens-ds \
        [--config site.toml] [--result summary.json] [--slices N] PCAP...

--out must be a directory every executor and the driver see at the same path
(NFS, a Databricks /dbfs mount, a FUSE-mounted bucket). Each pathlens run
writes its own part files (named by sensor and run id) and renames them when
complete, so concurrent runs never clash and a failed task adds nothing: the
task is simply retried. The pathlens binary and the site config must exist
on every executor at the given paths (see the README).
"""
import argparse
import json
import os
import socket
import subprocess
import sys

from pyspark.sql import SparkSession


def read_partition(pathlens, out, config, pcaps):
    """Runs one `pathlens read` per capture of this partition; yields (pcap, exit code, stderr)."""
    for pcap in pcaps:
        cmd = [pathlens, "read", "-q", "--sensor", socket.gethostname(), pcap, "-w", out.rstrip("/") + "/"]
        if config:
            cmd[2:2] = ["--config", config]
        p = subprocess.run(cmd, capture_output=True, text=True)
        yield pcap, p.returncode, p.stderr.strip()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pathlens", required=True, help="path of the pathlens binary on the executors")
    ap.add_argument("--out", required=True, help="dataset directory, the same path on every node")
    ap.add_argument("--config", help="site config, the same path on every node")
    ap.add_argument("--result", help="write the aggregate here as JSON")
    ap.add_argument("--slices", type=int, help="tasks (default: one per capture)")
    ap.add_argument("pcaps", nargs="+")
    a = ap.parse_args(argv)
    spark = SparkSession.builder.appName("pathlens").getOrCreate()
    os.makedirs(a.out, exist_ok=True)
    runs = (
        spark.sparkContext.parallelize(a.pcaps, a.slices or len(a.pcaps))
        .mapPartitions(lambda part: read_partition(a.pathlens, a.out, a.config, part))
        .collect()
    )
    failed = [r for r in runs if r[1] != 0]
    for pcap, code, err in failed:
        print(f"pathlens failed on {pcap} (exit {code}): {err}", file=sys.stderr)

    spark.read.option("basePath", f"{a.out}/flows").parquet(f"{a.out}/flows").createOrReplaceTempView("flows")
    # The path each flow is counted under, as `pathlens summary` does: the
    # observed one, else the prefix prediction labelled as such.
    by_egress = spark.sql("""
        SELECT traffic_type, coalesce(observed_egress, concat(egress, ' (predicted)')) AS egress,
               count(*) AS flows, sum(bidirectional_packets) AS packets, sum(bidirectional_bytes) AS bytes
        FROM flows GROUP BY 1, 2 ORDER BY bytes DESC, traffic_type, egress""").collect()
    by_app = spark.sql("""
        SELECT app_protocol, transport, count(*) AS flows,
               sum(bidirectional_packets) AS packets, sum(bidirectional_bytes) AS bytes
        FROM flows GROUP BY app_protocol, transport ORDER BY bytes DESC, app_protocol, transport""").collect()
    total = spark.sql("""
        SELECT count(*) AS flows, sum(bidirectional_packets) AS packets, sum(bidirectional_bytes) AS bytes
        FROM flows""").collect()[0]
    result = {
        "inputs": len(a.pcaps),
        "failed": len(failed),
        "total": total.asDict(),
        "by_egress": [r.asDict() for r in by_egress],
        "by_app": [r.asDict() for r in by_app],
    }
    text = json.dumps(result, indent=1)
    if a.result:
        with open(a.result, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
