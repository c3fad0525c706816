//! A finished flow's output row: its key oriented to the initiator, its
//! times and counters, and the labels the outcome step decides.

use super::state::Flow;
use pathlens_classify::community_id::{community_id_v1, icmp_ports};
use pathlens_classify::egress::LearnedEdges;
use pathlens_classify::outcome::{label, Evidence, Knowledge};
use pathlens_classify::{EndReason, FlowKey, FlowShape, Transport};
use pathlens_export::FlowRecord;
use std::sync::Arc;

/// The row of `f`, ended for `reason`, with the evidence it was labelled from.
pub(super) fn build_record(
    k: &Knowledge,
    learned: Option<&LearnedEdges>,
    iface: &Arc<str>,
    key: &FlowKey,
    f: &Flow,
    reason: EndReason,
) -> FlowRecord {
    let (src, sport, dst, dport) = if f.src_is_lo {
        (key.lo_addr, key.lo_port, key.hi_addr, key.hi_port)
    } else {
        (key.hi_addr, key.hi_port, key.lo_addr, key.lo_port)
    };
    let transport = Transport::from_ip_proto(key.proto);
    let (cid_sport, cid_dport, one_way) = match (transport, f.icmp) {
        (Transport::Icmp | Transport::Icmpv6, Some((t, c))) => {
            icmp_ports(t, c, transport == Transport::Icmpv6)
        }
        _ => (sport, dport, false),
    };
    let (sport, dport) = if transport.has_ports() {
        (sport, dport)
    } else {
        (0, 0)
    };
    let community_id = community_id_v1(src, dst, cid_sport, cid_dport, key.proto, one_way, 0);
    let labels = label(k, &evidence(f, src, dst, dport, transport, learned));
    FlowRecord {
        flow_id: f.flow_id,
        interface: Arc::clone(iface),
        community_id,
        first_seen_us: f.first_us,
        last_seen_us: f.last_us,
        end_reason: reason,
        ip_version: f.ip_version,
        ip_proto: key.proto,
        transport,
        src_ip: src,
        dst_ip: dst,
        src_port: sport,
        dst_port: dport,
        icmp_type: f.icmp.map(|(t, _)| i16::from(t)),
        icmp_code: f.icmp.map(|(_, c)| i16::from(c)),
        vlan_id: f.vlan,
        encapsulation: f.encap.0.name(),
        tunnel_id: f.encap.1,
        src2dst_packets: f.pkts[0],
        dst2src_packets: f.pkts[1],
        src2dst_bytes: f.bytes[0],
        dst2src_bytes: f.bytes[1],
        src2dst_payload_bytes: f.payload[0],
        dst2src_payload_bytes: f.payload[1],
        truncated_packets: u64::from(f.truncated),
        src2dst_tcp_flags: f.flags[0],
        dst2src_tcp_flags: f.flags[1],
        conn_state: (transport == Transport::Tcp).then(|| f.conn_state()),
        labels,
    }
}

/// What the outcome step is told about `f`, oriented to its initiator.
pub(super) fn evidence<'a>(
    f: &'a Flow,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    dport: u16,
    transport: Transport,
    learned: Option<&'a LearnedEdges>,
) -> Evidence<'a> {
    Evidence {
        flow_id: f.flow_id,
        src,
        dst,
        transport,
        shape: FlowShape {
            src2dst_packets: f.pkts[0],
            dst2src_packets: f.pkts[1],
            payload_bytes: f.payload[0] + f.payload[1],
            duration_us: f.last_us - f.first_us,
        },
        hops: f.hops,
        // A configured edge's own change, else a learned next hop's.
        hop_changed: if f.hops == [0; 2] {
            f.path.changed()
        } else {
            f.hop_changed()
        },
        next_hops: f.path.hops,
        learned,
        path: f.path.evidence(dport),
        flow: &f.evidence,
    }
}
