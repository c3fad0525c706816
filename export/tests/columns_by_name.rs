//! Every column is filled from its own field. Rows whose fields all hold
//! distinct values (booleans: a distinct pattern over the rows) go through a
//! Parquet file and are read back by column name; each column is compared
//! with the field this test names for it, written independently of the
//! column declarations. Two same-typed columns filled from each other's
//! field (say `src_ip` and `dst_ip`) fail here, which a type check cannot see.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pathlens_classify::buildings::{Building, FlowBuildings};
use pathlens_classify::egress::{Egress, ExpectedPath};
use pathlens_classify::media::{ClockSource, Quality, QualityProfile, RtcpFigures, StreamStats};
use pathlens_classify::outcome::{Labels, Leg, Marking, PathFields};
use pathlens_classify::prefix::FlowDirection;
use pathlens_classify::{
    AppProtocol, AppSource, EndReason, ProtocolFields, ServiceSource, Side, TrafficType, Transport,
};
use pathlens_export::{
    Compression, ConnState, DirMedia, EgressFields, FlowRecord, MediaFields, ParquetSink,
    StreamRecord, StreamsSink, WriterOptions,
};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// A cell read back, or expected.
#[derive(Debug, PartialEq)]
enum V {
    I(i64),
    F(f64),
    S(String),
    B(bool),
    Null,
}

macro_rules! v_from {
    ($($t:ty => |$x:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for V {
            fn from($x: $t) -> V {
                $e
            }
        })*
    };
}
v_from! {
    i64 => |x| V::I(x),
    u64 => |x| V::I(i64::try_from(x).unwrap()),
    i32 => |x| V::I(i64::from(x)),
    u32 => |x| V::I(i64::from(x)),
    i16 => |x| V::I(i64::from(x)),
    u16 => |x| V::I(i64::from(x)),
    u8 => |x| V::I(i64::from(x)),
    f64 => |x| V::F(x),
    bool => |x| V::B(x),
    &str => |x| V::S(x.to_string()),
    String => |x| V::S(x),
}

impl<T: Into<V>> From<Option<T>> for V {
    fn from(x: Option<T>) -> V {
        x.map_or(V::Null, Into::into)
    }
}

/// The column's cells, integers (timestamps too) as i64 and strings as text.
fn cells(col: &ArrayRef) -> Vec<V> {
    let as_type = match col.data_type() {
        DataType::Float64 => DataType::Float64,
        DataType::Boolean => DataType::Boolean,
        DataType::Utf8 | DataType::Dictionary(..) => DataType::Utf8,
        _ => DataType::Int64,
    };
    let c = cast(col, &as_type).unwrap();
    (0..c.len())
        .map(|i| match &as_type {
            _ if c.is_null(i) => V::Null,
            DataType::Float64 => V::F(c.as_primitive::<Float64Type>().value(i)),
            DataType::Boolean => V::B(c.as_boolean().value(i)),
            DataType::Utf8 => V::S(c.as_string::<i32>().value(i).to_string()),
            _ => V::I(c.as_primitive::<Int64Type>().value(i)),
        })
        .collect()
}

/// Bit `row` of `pattern`: each boolean column gets its own pattern.
fn bit(pattern: u8, row: usize) -> bool {
    (pattern >> row) & 1 == 1
}

fn opts() -> WriterOptions {
    WriterOptions {
        compression: Compression::Zstd,
        run_id: "the-run".into(),
        sensor: "the-sensor".into(),
        store: None,
    }
}

/// Flow rows 0 and 1 fill every optional field; row 2 is a non-media flow
/// with every option empty.
fn flow(row: usize) -> FlowRecord {
    let i = row as i64;
    let n = row as u64;
    let full = row < 2;
    let s = |what: &str| Some(format!("{what}-{row}")).filter(|_| full);
    let a = |what: &str| s(what).map(Arc::from);
    let dir = |base: i64| DirMedia {
        packets_lost: base + i,
        loss_pct: 0.25 + base as f64 + i as f64,
        jitter_mean_ms: Some(base as f64 + 0.5 + i as f64),
        jitter_max_ms: Some(base as f64 + 0.75 + i as f64),
        reordered: base + 10 + i,
        duplicates: base + 20 + i,
    };
    FlowRecord {
        flow_id: 1_000 + i,
        interface: Arc::from(format!("if-{row}")),
        community_id: format!("1:community-{row}"),
        first_seen_us: 1_700_000_000_000_000 + i,
        last_seen_us: 1_700_000_002_500_000 + 7 * i,
        end_reason: [
            EndReason::IdleTimeout,
            EndReason::ForcedEnd,
            EndReason::EndOfFlow,
        ][row],
        ip_version: [4, 6, 4][row],
        ip_proto: 17 + row as u8,
        transport: [Transport::Udp, Transport::Tcp, Transport::Sctp][row],
        src_ip: IpAddr::from([10, 0, 0, 1 + row as u8]),
        dst_ip: IpAddr::from([52, 112, 0, 1 + row as u8]),
        src_port: 40_000 + row as u16,
        dst_port: 3_478 + row as u16,
        icmp_type: Some(30 + row as i16).filter(|_| full),
        icmp_code: Some(40 + row as i16).filter(|_| full),
        vlan_id: 100 + row as u16,
        encapsulation: s("vxlan"),
        tunnel_id: Some(5_000 + row as u32).filter(|_| full),
        src2dst_packets: 2_000 + n,
        dst2src_packets: 3_000 + n,
        src2dst_bytes: 4_000 + n,
        dst2src_bytes: 5_000 + n,
        src2dst_payload_bytes: 6_000 + n,
        dst2src_payload_bytes: 7_000 + n,
        truncated_packets: 8_000 + n,
        src2dst_tcp_flags: 0x12 + row as u16,
        dst2src_tcp_flags: 0x18 + row as u16,
        conn_state: [Some(ConnState::SF), Some(ConnState::RSTO), None][row],
        labels: Labels {
            app_protocol: [AppProtocol::Srtp, AppProtocol::Sip, AppProtocol::Dns][row],
            app_protocol_source: [AppSource::Correlation, AppSource::Payload, AppSource::Port][row],
            traffic_type: [TrafficType::Media, TrafficType::Signaling, TrafficType::Web][row],
            protocol: ProtocolFields {
                server_name: s("server"),
                alpn: s("alpn"),
                tls_version: [Some("TLS 1.2"), Some("TLS 1.3"), None][row],
                sip_method: [Some("INVITE"), Some("REGISTER"), None][row],
                sip_user_agent: s("agent"),
                starttls: bit(0b011, row),
                stun_seen: bit(0b100, row),
                media_over_tcp: bit(0b101, row),
            },
            local_src: bit(0b001, row),
            local_dst: bit(0b010, row),
            direction: [
                FlowDirection::Outbound,
                FlowDirection::Inbound,
                FlowDirection::Internal,
            ][row],
            egress_label: s("label"),
            egress_prefix: s("prefix"),
            service: a("service"),
            service_source: [
                Some(ServiceSource::Sni),
                Some(ServiceSource::Correlation),
                None,
            ][row],
            egress: EgressFields {
                egress: [Egress::Internet, Egress::Local, Egress::Unknown][row],
                egress_list: a("list"),
                o365_endpoint_id: Some(11 + row as i32).filter(|_| full),
                o365_service_area: a("area"),
                o365_category: [Some("Optimize"), Some("Allow"), None][row],
                o365_expressroute: Some(bit(0b001, row)).filter(|_| full),
                src2dst_next_hop: a("hop-out"),
                dst2src_next_hop: a("hop-in"),
                asymmetric: Some(bit(0b010, row)).filter(|_| full),
                expected_path: [
                    Some(ExpectedPath::ExpressRoute),
                    Some(ExpectedPath::Local),
                    None,
                ][row],
                path_conformant: Some(bit(0b011, row)).filter(|_| full),
                path_note: s("note"),
                src2dst_edge: a("edge-out"),
                dst2src_edge: a("edge-in"),
                observed_egress: [Some(Egress::ExpressRoute), Some(Egress::Internet), None][row],
            },
            media: if full {
                MediaFields {
                    is_media: true,
                    rtp_ssrc_count: Some(3 + row as i32),
                    rtp_payload_type: Some(96 + row as i16),
                    codec: a("codec"),
                    src2dst: Some(dir(100)),
                    dst2src: Some(dir(200)),
                    rtcp_rtt_ms: Some(12.5 + i as f64),
                    rtcp_fraction_lost: Some(0.125 + i as f64),
                    media_quality: Some([Quality::Good, Quality::Poor][row]),
                    rtp_overflow_packets: Some(300 + i),
                    streams: Vec::new(),
                }
            } else {
                MediaFields::default()
            },
            path: PathFields {
                server_rtt_ms: Some(20.25 + i as f64).filter(|_| full),
                client_rtt_ms: Some(30.25 + i as f64).filter(|_| full),
                stun_rtt_ms: Some(40.25 + i as f64).filter(|_| full),
                marking: [
                    Some(Marking {
                        dscp: 46 - row as u8,
                        changed: bit(0b001, row),
                    })
                    .filter(|_| full),
                    Some(Marking {
                        dscp: 34 - row as u8,
                        changed: bit(0b010, row),
                    })
                    .filter(|_| full),
                ],
            },
            tunnel_media_suspected: Some(bit(0b100, row)).filter(|_| full),
            buildings: FlowBuildings {
                local: Some(building(row, "local")).filter(|_| full),
                peer: Some(building(row, "peer")).filter(|_| row == 0),
            },
            call_id: Some(9_000 + row as i64).filter(|_| full),
            // Grouping input only: no column.
            dialogs: Vec::new(),
        },
    }
}

fn building(row: usize, tag: &str) -> Arc<Building> {
    Arc::new(Building {
        network: format!("10.{row}.0.0/16").parse().unwrap(),
        subnet: Arc::from(format!("10.{row}.0.0/16")),
        network_name: Arc::from(format!("{tag}-net-{row}")),
        name: Arc::from(format!("{tag}-building-{row}")),
        ownership: Arc::from(""),
        building_type: Arc::from(""),
        office_type: Arc::from(""),
        city: Arc::from(""),
        zip: Arc::from(""),
        country: Arc::from(""),
        state: Arc::from(""),
        region: Arc::from(format!("{tag}-region-{row}")),
        inside_corp: bit(0b001, row),
        expressroute: bit(0b010, row),
        vpn: bit(0b110, row),
        line: row + 1,
    })
}

/// The value each flows column must hold for `r`, by column name.
fn flow_want(r: &FlowRecord) -> Vec<(&'static str, V)> {
    let e = &r.labels.egress;
    let m = &r.labels.media;
    let b = &r.labels.buildings;
    let dir = |d: Option<DirMedia>| match d {
        Some(d) => [
            d.packets_lost.into(),
            d.loss_pct.into(),
            d.jitter_mean_ms.into(),
            d.jitter_max_ms.into(),
            d.reordered.into(),
            d.duplicates.into(),
        ],
        // Not applicable is null, never a sentinel (schema v3).
        None => [V::Null, V::Null, V::Null, V::Null, V::Null, V::Null],
    };
    let [s_lost, s_pct, s_jmean, s_jmax, s_reord, s_dup] = dir(m.src2dst);
    let [d_lost, d_pct, d_jmean, d_jmax, d_reord, d_dup] = dir(m.dst2src);
    vec![
        ("flow_id", r.flow_id.into()),
        ("run_id", "the-run".into()),
        ("sensor", "the-sensor".into()),
        ("interface", (&*r.interface).into()),
        ("community_id", r.community_id.clone().into()),
        ("first_seen", r.first_seen_us.into()),
        ("last_seen", r.last_seen_us.into()),
        (
            "duration_s",
            ((r.last_seen_us - r.first_seen_us) as f64 / 1e6).into(),
        ),
        ("end_reason", r.end_reason.as_str().into()),
        ("ip_version", r.ip_version.into()),
        ("ip_proto", r.ip_proto.into()),
        ("transport", r.transport.as_str().into()),
        ("src_ip", r.src_ip.to_string().into()),
        ("dst_ip", r.dst_ip.to_string().into()),
        ("src_port", r.src_port.into()),
        ("dst_port", r.dst_port.into()),
        ("icmp_type", r.icmp_type.into()),
        ("icmp_code", r.icmp_code.into()),
        ("vlan_id", r.vlan_id.into()),
        ("encapsulation", r.encapsulation.clone().into()),
        ("tunnel_id", r.tunnel_id.into()),
        ("src2dst_packets", r.src2dst_packets.into()),
        ("dst2src_packets", r.dst2src_packets.into()),
        ("src2dst_bytes", r.src2dst_bytes.into()),
        ("dst2src_bytes", r.dst2src_bytes.into()),
        ("src2dst_payload_bytes", r.src2dst_payload_bytes.into()),
        ("dst2src_payload_bytes", r.dst2src_payload_bytes.into()),
        (
            "bidirectional_packets",
            (r.src2dst_packets + r.dst2src_packets).into(),
        ),
        (
            "bidirectional_bytes",
            (r.src2dst_bytes + r.dst2src_bytes).into(),
        ),
        ("truncated_packets", r.truncated_packets.into()),
        ("src2dst_tcp_flags", r.src2dst_tcp_flags.into()),
        ("dst2src_tcp_flags", r.dst2src_tcp_flags.into()),
        ("conn_state", r.conn_state.map(ConnState::as_str).into()),
        ("app_protocol", r.labels.app_protocol.as_str().into()),
        (
            "app_protocol_source",
            r.labels.app_protocol_source.as_str().into(),
        ),
        ("server_name", r.labels.protocol.server_name.clone().into()),
        ("local_src", r.labels.local_src.into()),
        ("local_dst", r.labels.local_dst.into()),
        ("direction", r.labels.direction.as_str().into()),
        ("egress_label", r.labels.egress_label.clone().into()),
        ("egress_prefix", r.labels.egress_prefix.clone().into()),
        ("traffic_type", r.labels.traffic_type.as_str().into()),
        ("alpn", r.labels.protocol.alpn.clone().into()),
        ("tls_version", r.labels.protocol.tls_version.into()),
        ("sip_method", r.labels.protocol.sip_method.into()),
        (
            "sip_user_agent",
            r.labels.protocol.sip_user_agent.clone().into(),
        ),
        ("starttls", r.labels.protocol.starttls.into()),
        ("stun_seen", r.labels.protocol.stun_seen.into()),
        ("media_over_tcp", r.labels.protocol.media_over_tcp.into()),
        ("service", r.labels.service.as_deref().into()),
        ("egress", e.egress.as_str().into()),
        ("egress_list", e.egress_list.as_deref().into()),
        ("o365_endpoint_id", e.o365_endpoint_id.into()),
        ("o365_service_area", e.o365_service_area.as_deref().into()),
        ("o365_category", e.o365_category.into()),
        ("o365_expressroute", e.o365_expressroute.into()),
        ("src2dst_next_hop", e.src2dst_next_hop.as_deref().into()),
        ("dst2src_next_hop", e.dst2src_next_hop.as_deref().into()),
        ("asymmetric", e.asymmetric.into()),
        (
            "expected_path",
            e.expected_path.map(ExpectedPath::as_str).into(),
        ),
        ("path_conformant", e.path_conformant.into()),
        ("path_note", e.path_note.clone().into()),
        ("rtp_ssrc_count", m.rtp_ssrc_count.into()),
        ("rtp_payload_type", m.rtp_payload_type.into()),
        ("codec", m.codec.as_deref().into()),
        ("src2dst_rtp_packets_lost", s_lost),
        ("src2dst_rtp_loss_pct", s_pct),
        ("src2dst_jitter_mean_ms", s_jmean),
        ("src2dst_jitter_max_ms", s_jmax),
        ("src2dst_rtp_reordered", s_reord),
        ("src2dst_rtp_duplicates", s_dup),
        ("dst2src_rtp_packets_lost", d_lost),
        ("dst2src_rtp_loss_pct", d_pct),
        ("dst2src_jitter_mean_ms", d_jmean),
        ("dst2src_jitter_max_ms", d_jmax),
        ("dst2src_rtp_reordered", d_reord),
        ("dst2src_rtp_duplicates", d_dup),
        ("rtcp_rtt_ms", m.rtcp_rtt_ms.into()),
        ("rtcp_fraction_lost", m.rtcp_fraction_lost.into()),
        ("media_quality", m.media_quality.map(Quality::as_str).into()),
        ("rtp_overflow_packets", m.rtp_overflow_packets.into()),
        (
            "service_source",
            r.labels.service_source.map(ServiceSource::as_str).into(),
        ),
        ("src2dst_edge", e.src2dst_edge.as_deref().into()),
        ("dst2src_edge", e.dst2src_edge.as_deref().into()),
        (
            "observed_egress",
            e.observed_egress.map(Egress::as_str).into(),
        ),
        ("server_rtt_ms", r.labels.path.server_rtt_ms.into()),
        ("client_rtt_ms", r.labels.path.client_rtt_ms.into()),
        ("stun_rtt_ms", r.labels.path.stun_rtt_ms.into()),
        (
            "src2dst_dscp",
            r.labels.path.marking[0].map(|m| m.dscp).into(),
        ),
        (
            "dst2src_dscp",
            r.labels.path.marking[1].map(|m| m.dscp).into(),
        ),
        (
            "src2dst_dscp_changed",
            r.labels.path.marking[0].map(|m| m.changed).into(),
        ),
        (
            "dst2src_dscp_changed",
            r.labels.path.marking[1].map(|m| m.changed).into(),
        ),
        (
            "tunnel_media_suspected",
            r.labels.tunnel_media_suspected.into(),
        ),
        (
            "building",
            b.local.as_ref().map(|b| b.name.to_string()).into(),
        ),
        (
            "network_name",
            b.local.as_ref().map(|b| b.network_name.to_string()).into(),
        ),
        (
            "subnet",
            b.local.as_ref().map(|b| b.network.to_string()).into(),
        ),
        (
            "region",
            b.local.as_ref().map(|b| b.region.to_string()).into(),
        ),
        (
            "inside_corp",
            b.local.as_ref().map(|b| b.inside_corp).into(),
        ),
        ("vpn", b.local.as_ref().map(|b| b.vpn).into()),
        (
            "building_expressroute",
            b.local.as_ref().map(|b| b.expressroute).into(),
        ),
        (
            "peer_building",
            b.peer.as_ref().map(|b| b.name.to_string()).into(),
        ),
        (
            "peer_subnet",
            b.peer.as_ref().map(|b| b.network.to_string()).into(),
        ),
        ("call_id", r.labels.call_id.into()),
    ]
}

/// Stream rows: 0 and 1 with RTP and RTCP, 2 known only from RTCP reports.
fn stream(row: usize) -> StreamRecord {
    let i = row as i64;
    let n = row as u64;
    let rtp = row < 2;
    StreamRecord {
        flow_id: 1_000 + i,
        quality: [Some(Quality::Poor), Some(Quality::Good), None][row],
        cqd_quality: [Some(Quality::Good), Some(Quality::Poor), None][row],
        leg: [
            Some(Leg {
                profile: QualityProfile::CustomerEdgeSegment,
                segment: "internet",
            }),
            Some(Leg {
                profile: QualityProfile::Client,
                segment: "lan",
            }),
            None,
        ][row],
        stats: StreamStats {
            side: [Side::Dst2Src, Side::Src2Dst, Side::Dst2Src][row],
            ssrc: 0xdead_0000 + row as u32,
            payload_type: 96 + row as u8,
            codec: Some(Arc::from(format!("codec-{row}"))),
            clock_rate: [Some(48_000), Some(16_000), None][row],
            clock_source: [Some(ClockSource::Sdp), Some(ClockSource::Estimated), None][row],
            packets: [1_500, 1_600, 0][row],
            expected: 1_700 + n,
            lost: 200 + i,
            duplicates: 10 + n,
            reordered: 20 + n,
            restarts: 2 + row as u32,
            valid: bit(0b001, row),
            jitter_mean_ms: Some(3.5 + i as f64).filter(|_| rtp),
            jitter_max_ms: Some(9.5 + i as f64).filter(|_| rtp),
            longest_gap_us: 120_000 + i,
            burst_loss_max_pct: Some(40.0 + i as f64).filter(|_| rtp),
            windows: [4, 5, 0][row],
            windows_poor: [[1, 3], [2, 0], [0, 0]][row],
            loss_max_window_pct: Some(2.5 + i as f64).filter(|_| rtp),
            jitter_max_window_ms: Some(17.5 + i as f64).filter(|_| rtp),
            first_seq: 1_000 + row as u16,
            last_seq: 2_000 + row as u16,
            first_us: 1_700_000_000_000_000 + i,
            last_us: 1_700_000_060_000_000 + i,
            rtcp: (row != 1).then_some(RtcpFigures {
                reports: 30 + n,
                fraction_lost: 0.0625 + i as f64,
                cumulative_lost: 50 + i,
                jitter_ms: Some(4.25 + i as f64),
                jitter_ts: 77,
                rtt_ms: Some(35.5 + i as f64),
            }),
            reported_elsewhere: false,
        },
    }
}

/// The value each streams column must hold for `r`, by column name.
fn stream_want(r: &StreamRecord) -> Vec<(&'static str, V)> {
    let s = &r.stats;
    let rtp = s.packets > 0;
    let rc = s.rtcp.as_ref();
    vec![
        ("flow_id", r.flow_id.into()),
        ("run_id", "the-run".into()),
        (
            "direction",
            match s.side {
                Side::Src2Dst => "src2dst",
                Side::Dst2Src => "dst2src",
            }
            .into(),
        ),
        ("ssrc", s.ssrc.into()),
        ("payload_type", rtp.then_some(s.payload_type).into()),
        ("codec", s.codec.as_deref().filter(|_| rtp).into()),
        ("clock_rate", s.clock_rate.into()),
        (
            "clock_source",
            s.clock_source.map(ClockSource::as_str).into(),
        ),
        ("packets", s.packets.into()),
        ("expected", s.expected.into()),
        ("lost", s.lost.into()),
        ("loss_pct", s.loss_pct().into()),
        ("duplicates", s.duplicates.into()),
        ("reordered", s.reordered.into()),
        ("restarts", s.restarts.into()),
        ("valid", s.valid.into()),
        ("jitter_mean_ms", s.jitter_mean_ms.into()),
        ("jitter_max_ms", s.jitter_max_ms.into()),
        ("longest_gap_ms", (s.longest_gap_us as f64 / 1000.0).into()),
        ("burst_loss_max_pct", s.burst_loss_max_pct.into()),
        ("first_seq", rtp.then_some(s.first_seq).into()),
        ("last_seq", rtp.then_some(s.last_seq).into()),
        ("first_seen", s.first_us.into()),
        ("last_seen", s.last_us.into()),
        ("rtcp_reports", rc.map_or(0, |c| c.reports).into()),
        ("rtcp_fraction_lost", rc.map(|c| c.fraction_lost).into()),
        ("rtcp_cumulative_lost", rc.map(|c| c.cumulative_lost).into()),
        ("rtcp_jitter_ms", rc.and_then(|c| c.jitter_ms).into()),
        ("rtcp_rtt_ms", rc.and_then(|c| c.rtt_ms).into()),
        ("quality", r.quality.map(Quality::as_str).into()),
        ("cqd_quality", r.cqd_quality.map(Quality::as_str).into()),
        ("windows", rtp.then_some(s.windows).into()),
        (
            "windows_poor",
            r.profile().map(|p| s.windows_poor[p.index()]).into(),
        ),
        ("loss_max_window_pct", s.loss_max_window_pct.into()),
        ("jitter_max_window_ms", s.jitter_max_window_ms.into()),
        (
            "quality_profile",
            r.profile().map(QualityProfile::as_str).into(),
        ),
        ("quality_segment", r.leg.map(|l| l.segment).into()),
    ]
}

fn read_back(path: &Path) -> RecordBatch {
    let f = std::fs::File::open(path).unwrap();
    let mut batches = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let b = batches.next().unwrap().unwrap();
    assert!(batches.next().is_none());
    b
}

/// Every column of `batch`, by name and in order, holds what `want` says.
fn check(batch: &RecordBatch, want: &[Vec<(&'static str, V)>]) {
    let names: Vec<&str> = want[0].iter().map(|(n, _)| *n).collect();
    let schema = batch.schema();
    let file_names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(file_names, names, "the file's columns and this test's list");
    for (k, name) in names.iter().enumerate() {
        let got = cells(batch.column_by_name(name).unwrap());
        let expected: Vec<&V> = want.iter().map(|row| &row[k].1).collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "column {name}");
    }
}

#[test]
fn every_flows_column_comes_from_its_own_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flows.parquet");
    let rows: Vec<FlowRecord> = (0..3).map(flow).collect();
    let mut sink = ParquetSink::create(&out, opts()).unwrap();
    sink.write(&rows).unwrap();
    sink.finish(Vec::new()).unwrap();
    let want: Vec<_> = rows.iter().map(flow_want).collect();
    check(&read_back(&out), &want);
}

#[test]
fn every_streams_column_comes_from_its_own_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flows.streams.parquet");
    let rows: Vec<StreamRecord> = (0..3).map(stream).collect();
    let mut sink = StreamsSink::create_table(&out, opts()).unwrap();
    sink.write(&rows).unwrap();
    sink.finish(Vec::new()).unwrap();
    let want: Vec<_> = rows.iter().map(stream_want).collect();
    check(&read_back(&out), &want);
}
