"""Reads a pathlens dataset back from Azurite (the Azure Storage emulator)
with the Azure SDK and pyarrow, or from a local directory with pyarrow, and
prints it in one canonical form for capture/tests/object_store.rs to compare.

  check_store.py create PORT CONTAINER             make the container
  check_store.py blobs PORT CONTAINER PREFIX       JSON: the blobs a reader sees
  check_store.py all-blobs PORT CONTAINER PREFIX   JSON: those and the uncommitted ones
  check_store.py rows PORT CONTAINER PREFIX TABLE  the table's rows via pyarrow's AzureFileSystem
  check_store.py local-rows DIR TABLE              the same for a local dataset
  check_store.py s3-probe PORT                     succeeds once moto answers
  check_store.py s3-create PORT BUCKET             the same for moto's S3 server (boto3,
  check_store.py s3-keys PORT BUCKET PREFIX        pyarrow's S3FileSystem)
  check_store.py s3-rows PORT BUCKET PREFIX TABLE
  check_store.py local-files DIR                   JSON: the local dataset's files
  check_store.py put PORT CONTAINER KEY FILE       upload FILE as the blob KEY (Azure SDK)
  check_store.py s3-put PORT BUCKET KEY FILE       upload FILE as the object KEY (boto3)
"""
import json
import os
import re
import sys

import pyarrow.dataset as ds
import pyarrow.fs as pafs

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def service(port):
    from azure.storage.blob import BlobServiceClient

    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )
    return BlobServiceClient.from_connection_string(conn)


def s3(port):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )


def canonical(table):
    # run_id differs between two runs of the same input; everything else must not.
    table = table.drop_columns([c for c in ["run_id"] if c in table.column_names])
    rows = [json.dumps(r, sort_keys=True, default=str) for r in table.to_pylist()]
    return "\n".join(sorted(rows))


def same_name(path):
    # part-STAMP-SENSOR-RUNTAG-SEQ.parquet: the run tag is the run's own.
    return re.sub(r"-[0-9a-zA-Z]{8}-(\d{6})\.parquet$", r"-RUN-\1.parquet", path)


def main():
    cmd = sys.argv[1]
    if cmd == "create":
        service(sys.argv[2]).create_container(sys.argv[3])
    elif cmd in ("blobs", "all-blobs"):
        # blobs: what a reader sees; all-blobs: with the uncommitted ones
        # (blocks staged by an upload that never committed).
        c = service(sys.argv[2]).get_container_client(sys.argv[3])
        prefix = sys.argv[4]
        include = ["uncommittedblobs"] if cmd == "all-blobs" else None
        out = [
            {"name": same_name(b.name[len(prefix):]), "size": b.size}
            for b in c.list_blobs(name_starts_with=prefix, include=include)
        ]
        print(json.dumps(sorted(out, key=lambda b: b["name"])))
    elif cmd == "rows":
        port, container, prefix, table = sys.argv[2:6]
        fs = pafs.AzureFileSystem(
            account_name=ACCOUNT,
            account_key=KEY,
            blob_storage_authority=f"127.0.0.1:{port}",
            blob_storage_scheme="http",
            dfs_storage_authority=f"127.0.0.1:{port}",
            dfs_storage_scheme="http",
        )
        d = ds.dataset(f"{container}/{prefix}{table}", filesystem=fs, format="parquet", partitioning="hive")
        print(canonical(d.to_table()))
    elif cmd == "put":
        port, container, key, path = sys.argv[2:6]
        c = service(port).get_container_client(container)
        with open(path, "rb") as f:
            c.upload_blob(key, f, overwrite=True)
    elif cmd == "s3-put":
        port, bucket, key, path = sys.argv[2:6]
        with open(path, "rb") as f:
            s3(port).put_object(Bucket=bucket, Key=key, Body=f.read())
    elif cmd == "s3-probe":
        s3(sys.argv[2]).list_buckets()
    elif cmd == "s3-create":
        s3(sys.argv[2]).create_bucket(Bucket=sys.argv[3])
    elif cmd == "s3-keys":
        port, bucket, prefix = sys.argv[2:5]
        listed = s3(port).list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        out = [{"name": same_name(o["Key"][len(prefix):]), "size": o["Size"]} for o in listed]
        print(json.dumps(sorted(out, key=lambda b: b["name"])))
    elif cmd == "s3-rows":
        port, bucket, prefix, table = sys.argv[2:6]
        fs = pafs.S3FileSystem(
            access_key="test",
            secret_key="test",
            endpoint_override=f"http://127.0.0.1:{port}",
            region="us-east-1",
        )
        d = ds.dataset(f"{bucket}/{prefix}{table}", filesystem=fs, format="parquet", partitioning="hive")
        print(canonical(d.to_table()))
    elif cmd == "local-rows":
        d = ds.dataset(os.path.join(sys.argv[2], sys.argv[3]), format="parquet", partitioning="hive")
        print(canonical(d.to_table()))
    elif cmd == "local-files":
        root = sys.argv[2]
        out = []
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = os.path.relpath(os.path.join(dirpath, n), root)
                out.append({"name": same_name(p), "size": os.path.getsize(os.path.join(dirpath, n))})
        print(json.dumps(sorted(out, key=lambda b: b["name"])))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
