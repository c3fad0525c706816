//! The columns of one flow (and of one RTP stream) that the summary and the
//! report aggregate, borrowed either from a record as the writer passes it or
//! from a Parquet row read back by column name. Both the end-of-run summary
//! and `pathlens summary` feed these to the same `Summary::add_row`, so they
//! cannot disagree.

use crate::record::FlowRecord;
use pathlens_classify::media::Quality;
use std::fmt;
use std::net::IpAddr;

/// What a flow row shows of its path (columns of issue 15; absent in older
/// files, then empty).
#[derive(Clone, Copy, Debug, Default)]
pub struct PathRow<'a> {
    /// `src2dst_edge`, `dst2src_edge`.
    pub edges: [Option<&'a str>; 2],
    /// `src2dst_next_hop`, `dst2src_next_hop`.
    pub next_hops: [Option<&'a str>; 2],
    /// `observed_egress`.
    pub observed: Option<&'a str>,
    /// `src2dst_packets`, `dst2src_packets`.
    pub packets: [u64; 2],
    /// `src2dst_bytes`, `dst2src_bytes`.
    pub bytes: [u64; 2],
    /// `src2dst_dscp`, `dst2src_dscp`.
    pub dscp: [Option<i64>; 2],
    /// `server_rtt_ms`.
    pub server_rtt_ms: Option<f64>,
    /// `stun_rtt_ms`.
    pub stun_rtt_ms: Option<f64>,
}

/// An address as the record holds it or as the file stores it.
#[derive(Clone, Copy, Debug)]
pub enum Addr<'a> {
    /// From a record.
    Ip(IpAddr),
    /// From a Parquet column (RFC 5952 text).
    Text(&'a str),
}

impl fmt::Display for Addr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Ip(ip) => ip.fmt(f),
            Addr::Text(s) => f.write_str(s),
        }
    }
}

/// The summary's view of one flow row.
#[derive(Clone, Copy, Debug)]
pub struct FlowRow<'a> {
    /// `first_seen`, µs since the Unix epoch.
    pub first_seen_us: i64,
    /// `app_protocol`.
    pub app_protocol: &'a str,
    /// `transport`.
    pub transport: &'a str,
    /// `traffic_type`.
    pub traffic_type: &'a str,
    /// `egress`.
    pub egress: &'a str,
    /// `service`.
    pub service: Option<&'a str>,
    /// `server_name`.
    pub server_name: Option<&'a str>,
    /// `bidirectional_packets`.
    pub packets: u64,
    /// `bidirectional_bytes`.
    pub bytes: u64,
    /// `src_ip`.
    pub src_ip: Addr<'a>,
    /// `dst_ip`.
    pub dst_ip: Addr<'a>,
    /// `dst_port`.
    pub dst_port: i32,
    /// `src_port`.
    pub src_port: i32,
    /// `community_id`.
    pub community_id: Option<&'a str>,
    /// `local_src`.
    pub local_src: bool,
    /// `local_dst`.
    pub local_dst: bool,
    /// `src2dst_next_hop`.
    pub src2dst_next_hop: Option<&'a str>,
    /// `dst2src_next_hop`.
    pub dst2src_next_hop: Option<&'a str>,
    /// `asymmetric`.
    pub asymmetric: Option<bool>,
    /// `expected_path`.
    pub expected_path: Option<&'a str>,
    /// `path_conformant`.
    pub path_conformant: Option<bool>,
    /// `path_note`.
    pub path_note: Option<&'a str>,
    /// `encapsulation`.
    pub encapsulation: Option<&'a str>,
    /// `tunnel_id`.
    pub tunnel_id: Option<i64>,
    /// `rtp_overflow_packets` (0 when the column is absent).
    pub rtp_overflow_packets: u64,
    /// Edges, per-direction counts, marking and round trips.
    pub path: PathRow<'a>,
}

impl<'a> FlowRow<'a> {
    /// The row a record becomes in the flows table.
    pub fn from_record(r: &'a FlowRecord) -> Self {
        let l = &r.labels;
        let e = &l.egress;
        FlowRow {
            first_seen_us: r.first_seen_us,
            app_protocol: l.app_protocol.as_str(),
            transport: r.transport.as_str(),
            traffic_type: l.traffic_type.as_str(),
            egress: e.egress.as_str(),
            service: l.service.as_deref(),
            server_name: l.protocol.server_name.as_deref(),
            encapsulation: r.encapsulation.as_deref(),
            tunnel_id: r.tunnel_id.map(i64::from),
            packets: r.packets(),
            bytes: r.bytes(),
            src_ip: Addr::Ip(r.src_ip),
            dst_ip: Addr::Ip(r.dst_ip),
            dst_port: i32::from(r.dst_port),
            src_port: i32::from(r.src_port),
            community_id: Some(r.community_id.as_str()),
            local_src: l.local_src,
            local_dst: l.local_dst,
            src2dst_next_hop: e.src2dst_next_hop.as_deref(),
            dst2src_next_hop: e.dst2src_next_hop.as_deref(),
            asymmetric: e.asymmetric,
            expected_path: e.expected_path.map(|p| p.as_str()),
            path_conformant: e.path_conformant,
            path_note: e.path_note.as_deref(),
            rtp_overflow_packets: l
                .media
                .rtp_overflow_packets
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            path: PathRow {
                edges: [e.src2dst_edge.as_deref(), e.dst2src_edge.as_deref()],
                next_hops: [e.src2dst_next_hop.as_deref(), e.dst2src_next_hop.as_deref()],
                observed: e.observed_egress.map(|p| p.as_str()),
                packets: [r.src2dst_packets, r.dst2src_packets],
                bytes: [r.src2dst_bytes, r.dst2src_bytes],
                dscp: l.path.marking.map(|m| m.map(|m| i64::from(m.dscp))),
                server_rtt_ms: l.path.server_rtt_ms,
                stun_rtt_ms: l.path.stun_rtt_ms,
            },
        }
    }

    /// The site's own end of the flow: the local one, else the initiator.
    pub fn local_host(&self) -> Addr<'a> {
        if !self.local_src && self.local_dst {
            self.dst_ip
        } else {
            self.src_ip
        }
    }
}

/// The summary's view of one row of the `streams` table.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamRow {
    /// `direction` is `src2dst`.
    pub src2dst: bool,
    /// `packets` (RTP packets; 0 for a stream known only from RTCP).
    pub packets: u64,
    /// `expected`.
    pub expected: u64,
    /// `lost`, clamped at 0.
    pub lost: u64,
    /// `reordered`.
    pub reordered: u64,
    /// `loss_pct`.
    pub loss_pct: f64,
    /// `jitter_mean_ms`.
    pub jitter_mean_ms: Option<f64>,
    /// `loss_max_window_pct` (None without a counted window, or in files
    /// written before the column).
    pub loss_window_pct: Option<f64>,
    /// `jitter_max_window_ms`.
    pub jitter_window_ms: Option<f64>,
    /// `quality`: None unjudged, Some(true) poor.
    pub poor: Option<bool>,
}

impl StreamRow {
    /// The row a stream record becomes in the streams table.
    pub fn from_record(s: &crate::StreamRecord) -> Self {
        StreamRow {
            src2dst: s.stats.side == pathlens_classify::Side::Src2Dst,
            packets: s.stats.packets,
            expected: s.stats.expected,
            lost: u64::try_from(s.stats.lost.max(0)).unwrap_or(0),
            reordered: s.stats.reordered,
            loss_pct: s.stats.loss_pct(),
            jitter_mean_ms: s.stats.jitter_mean_ms,
            loss_window_pct: s.stats.loss_max_window_pct,
            jitter_window_ms: s.stats.jitter_max_window_ms,
            poor: s.quality.map(|q| q == Quality::Poor),
        }
    }
}
