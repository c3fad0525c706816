"""Reads the calls of a pathlens output (a dataset's globs or one run's
files) with DuckDB, in one canonical form, for capture/tests/live_calls.rs.

  live_calls.py calls FLOWS CALLS      one line per call: its columns that do
                                        not depend on ids or clock, and the
                                        endpoints of its flows, joined through
                                        calls.flow_ids
  live_calls.py by-call-id FLOWS CALLS the same, its flows joined through
                                        flows.call_id
  live_calls.py count FLOWS            JSON: flow rows, and those with a call_id

FLOWS and CALLS are Parquet paths or globs (hive-partitioned datasets too).
"""
import json
import sys

import duckdb

COLUMNS = [
    "local_ip", "peer_local_ip", "building", "peer_building", "network_name",
    "vpn", "building_expressroute", "one_way_audio", "modalities",
    "expected_path", "path_conformant", "media_flows", "flows", "streams",
]


def calls(flows, calls_glob, join):
    cols = ", ".join(f"c.{c}" for c in COLUMNS)
    on = {
        "flow_ids": "list_contains(string_split(c.flow_ids, ','), f.flow_id::varchar)",
        "call_id": "f.call_id = c.call_id",
    }[join]
    # Grouped by call_id too (two calls of one client may agree in every
    # other column), which is then left out: ids differ between runs.
    rows = duckdb.sql(
        f"""select * exclude (call_id) from (
                select c.call_id, {cols},
                       list_sort(list(f.transport || ' ' || f.src_ip || ':' || f.src_port
                                      || ' > ' || f.dst_ip || ':' || f.dst_port)) as members
                from read_parquet('{calls_glob}') c
                left join read_parquet('{flows}') f on {on}
                group by all)
            order by all"""
    ).fetchall()
    for r in rows:
        print(" | ".join("NULL" if v is None else str(v) for v in r))


def main():
    cmd = sys.argv[1]
    if cmd == "calls":
        calls(sys.argv[2], sys.argv[3], "flow_ids")
    elif cmd == "by-call-id":
        calls(sys.argv[2], sys.argv[3], "call_id")
    elif cmd == "count":
        n, with_call = duckdb.sql(
            f"select count(*), count(call_id) from read_parquet('{sys.argv[2]}')"
        ).fetchall()[0]
        print(json.dumps({"rows": n, "with_call_id": with_call}))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
