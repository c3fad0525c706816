//! One output row per flow record, as the workers hand it to the writer.

use pathlens_classify::outcome::Labels;
use pathlens_classify::prefix::FlowDirection;
use pathlens_classify::{AppProtocol, AppSource, EndReason, TrafficType, Transport};
use std::net::IpAddr;
use std::sync::Arc;

/// Zeek-style TCP connection state (`conn_state` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH,
}

impl ConnState {
    /// The column value (Zeek's code).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

/// A finished flow record. `src` is the initiator. Counters are per direction.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    /// Unique within the run.
    pub flow_id: i64,
    /// Capture interface or input file name.
    pub interface: Arc<str>,
    /// Community ID v1.
    pub community_id: String,
    /// First packet time, µs since the Unix epoch.
    pub first_seen_us: i64,
    /// Last packet time, µs since the Unix epoch.
    pub last_seen_us: i64,
    /// Why the record ended.
    pub end_reason: EndReason,
    /// 4 or 6.
    pub ip_version: u8,
    /// IANA protocol number.
    pub ip_proto: u8,
    /// Transport class.
    pub transport: Transport,
    /// Initiator address.
    pub src_ip: IpAddr,
    /// Responder address.
    pub dst_ip: IpAddr,
    /// Initiator port, 0 without ports.
    pub src_port: u16,
    /// Responder port, 0 without ports.
    pub dst_port: u16,
    /// ICMP type of the first packet, None for other protocols.
    pub icmp_type: Option<i16>,
    /// ICMP code of the first packet, None for other protocols.
    pub icmp_code: Option<i16>,
    /// Outer VLAN, 0 if untagged.
    pub vlan_id: u16,
    /// The tunnels the flow came through, outermost first (`vxlan`,
    /// `erspan2+vxlan`), None when it was not tunnelled.
    pub encapsulation: Option<String>,
    /// The outermost tunnel id: ERSPAN session, VNI, GRE key or GTP TEID.
    pub tunnel_id: Option<u32>,
    /// Packets initiator to responder.
    pub src2dst_packets: u64,
    /// Packets responder to initiator.
    pub dst2src_packets: u64,
    /// IP-layer bytes initiator to responder.
    pub src2dst_bytes: u64,
    /// IP-layer bytes responder to initiator.
    pub dst2src_bytes: u64,
    /// Transport payload bytes initiator to responder.
    pub src2dst_payload_bytes: u64,
    /// Transport payload bytes responder to initiator.
    pub dst2src_payload_bytes: u64,
    /// Packets cut by the snap length.
    pub truncated_packets: u64,
    /// OR of TCP flags initiator to responder.
    pub src2dst_tcp_flags: u16,
    /// OR of TCP flags responder to initiator.
    pub dst2src_tcp_flags: u16,
    /// TCP connection state, None for other transports.
    pub conn_state: Option<ConnState>,
    /// What the flow is, where it goes and how good its media is.
    pub labels: Labels,
}

impl FlowRecord {
    /// Packets both ways.
    pub fn packets(&self) -> u64 {
        self.src2dst_packets + self.dst2src_packets
    }

    /// IP bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.src2dst_bytes + self.dst2src_bytes
    }

    /// A record with neutral values, for tests and generators.
    pub fn example() -> Self {
        FlowRecord {
            flow_id: 1,
            interface: Arc::from("example.pcap"),
            community_id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=".into(),
            first_seen_us: 1_700_000_000_000_000,
            last_seen_us: 1_700_000_001_500_000,
            end_reason: EndReason::EndOfFlow,
            ip_version: 4,
            ip_proto: 6,
            transport: Transport::Tcp,
            src_ip: IpAddr::from([192, 168, 1, 10]),
            dst_ip: IpAddr::from([52, 112, 1, 1]),
            src_port: 50_000,
            dst_port: 443,
            icmp_type: None,
            icmp_code: None,
            vlan_id: 0,
            encapsulation: None,
            tunnel_id: None,
            src2dst_packets: 10,
            dst2src_packets: 8,
            src2dst_bytes: 1_000,
            dst2src_bytes: 4_000,
            src2dst_payload_bytes: 600,
            dst2src_payload_bytes: 3_680,
            truncated_packets: 0,
            src2dst_tcp_flags: 0x1b,
            dst2src_tcp_flags: 0x1b,
            conn_state: Some(ConnState::SF),
            labels: Labels {
                app_protocol: AppProtocol::Https,
                app_protocol_source: AppSource::Port,
                traffic_type: TrafficType::Web,
                local_src: true,
                local_dst: false,
                direction: FlowDirection::Outbound,
                protocol: pathlens_classify::ProtocolFields {
                    alpn: Some("h2".into()),
                    tls_version: Some("TLS 1.3"),
                    ..Default::default()
                },
                service: Some(Arc::from("skype_teams")),
                ..Labels::unknown()
            },
        }
    }
}
