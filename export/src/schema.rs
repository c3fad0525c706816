//! The Arrow schema of the flows table: names and types of `schema.md`
//! sections 1 and 2, then the classification columns of section 3, then the
//! egress block (`egress_cols`).
//!
//! Why these types (signed integers, µs UTC timestamps, dictionary strings,
//! no nulls in numeric columns) is argued in `docs/schema.md`.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

/// Value of the `pathlens.schema_version` metadata key.
pub const SCHEMA_VERSION: &str = "2";

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The flows table schema, built once.
pub fn flow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            use DataType::*;
            let f = |name: &str, dt: DataType, nullable: bool| Field::new(name, dt, nullable);
            let mut fields = vec![
                f("flow_id", Int64, false),
                f("run_id", dict(), false),
                f("sensor", dict(), false),
                f("interface", dict(), false),
                f("community_id", Utf8, false),
                f("first_seen", ts(), false),
                f("last_seen", ts(), false),
                f("duration_s", Float64, false),
                f("end_reason", dict(), false),
                f("ip_version", Int8, false),
                f("ip_proto", Int16, false),
                f("transport", dict(), false),
                f("src_ip", Utf8, false),
                f("dst_ip", Utf8, false),
                f("src_port", Int32, false),
                f("dst_port", Int32, false),
                f("icmp_type", Int16, false),
                f("icmp_code", Int16, false),
                f("vlan_id", Int32, false),
                f("src2dst_packets", Int64, false),
                f("dst2src_packets", Int64, false),
                f("src2dst_bytes", Int64, false),
                f("dst2src_bytes", Int64, false),
                f("src2dst_payload_bytes", Int64, false),
                f("dst2src_payload_bytes", Int64, false),
                f("bidirectional_packets", Int64, false),
                f("bidirectional_bytes", Int64, false),
                f("truncated_packets", Int64, false),
                f("src2dst_tcp_flags", Int16, false),
                f("dst2src_tcp_flags", Int16, false),
                f("conn_state", dict(), true),
                f("app_protocol", dict(), false),
                f("app_protocol_source", dict(), false),
                f("server_name", Utf8, true),
                f("local_src", Boolean, false),
                f("local_dst", Boolean, false),
                f("direction", dict(), false),
                f("egress_label", dict(), true),
                f("egress_prefix", Utf8, true),
                f("traffic_type", dict(), false),
                f("alpn", Utf8, true),
                f("tls_version", dict(), true),
                f("sip_method", dict(), true),
                f("sip_user_agent", Utf8, true),
                f("starttls", Boolean, false),
                f("stun_seen", Boolean, false),
                f("media_over_tcp", Boolean, false),
                f("service", dict(), true),
            ];
            fields.extend(crate::egress_cols::egress_fields());
            // Egress, then media columns, after `service` (schema.md §3).
            fields.extend(crate::media_cols::media_fields());
            Arc::new(Schema::new(fields))
        })
        .clone()
}
