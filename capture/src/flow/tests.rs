//! The flow table's behaviour: orientation, connection states, timeouts,
//! eviction and media tracking, on hand-made packets.

use super::*;
use pathlens_classify::egress::Site;
use pathlens_classify::prefix::FlowDirection;
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::AppProtocol;
use pathlens_classify::{EndReason, Signatures};
use pathlens_export::{ConnState, MediaFields};
use std::net::IpAddr;
use std::sync::Arc;

const S: i64 = 1_000_000;

fn ctx() -> Arc<Knowledge> {
    Arc::new(Knowledge {
        signatures: Signatures::builtin().unwrap(),
        local: LocalNets::default(),
        egress: Site::default(),
        sensor_position: Default::default(),
    })
}

struct Gen {
    seq: u64,
}

impl Gen {
    fn pkt(
        &mut self,
        ts: i64,
        src: (&str, u16),
        dst: (&str, u16),
        proto: u8,
        flags: u16,
        len: u32,
    ) -> Pkt {
        let (s, d): (IpAddr, IpAddr) = (src.0.parse().unwrap(), dst.0.parse().unwrap());
        let (key, from_lo) = FlowKey::new(s, src.1, d, dst.1, proto, 0);
        self.seq += 1;
        Pkt {
            seq: self.seq,
            ts_us: ts,
            key,
            from_lo,
            ip_version: 4,
            ip_len: len,
            payload_len: len.saturating_sub(40),
            tcp_flags: flags,
            icmp: None,
            truncated: false,
            sport: src.1,
            dport: dst.1,
            edge: 0,
            l2: Default::default(),
            encap: Default::default(),
            tunnel_id: None,
        }
    }
}

const C: (&str, u16) = ("192.168.1.10", 50123);
const SV: (&str, u16) = ("52.112.1.1", 443);

fn table(cfg: FlowConfig) -> FlowTable {
    let mut t = FlowTable::new(cfg, ctx());
    t.interface = Arc::from("t.pcap");
    t
}

#[test]
fn tcp_handshake_orients_and_closes_sf() {
    let mut g = Gen { seq: 0 };
    let mut t = table(FlowConfig::default());
    let mut out = Vec::new();
    // Capture starts with the SYN-ACK: the receiver is still the initiator.
    t.packet(&g.pkt(0, SV, C, 6, SYN | ACK, 60), &[], &mut out);
    t.packet(&g.pkt(1, C, SV, 6, ACK, 52), &[], &mut out);
    t.packet(&g.pkt(2, C, SV, 6, ACK | FIN, 52), &[], &mut out);
    t.packet(&g.pkt(3, SV, C, 6, ACK | FIN, 52), &[], &mut out);
    t.packet(&g.pkt(4, C, SV, 6, ACK, 52), &[], &mut out);
    assert!(out.is_empty(), "the last ACK joins the closed flow");
    t.advance(4 + 10 * S, &mut out);
    assert_eq!(out.len(), 1);
    let r = &out[0];
    assert_eq!(
        (r.src_ip.to_string().as_str(), r.src_port, r.dst_port),
        ("192.168.1.10", 50123, 443)
    );
    assert_eq!(
        (r.src2dst_packets, r.dst2src_packets, r.src2dst_bytes),
        (3, 2, 156)
    );
    assert_eq!(r.end_reason, EndReason::EndOfFlow);
    assert_eq!(r.conn_state, Some(ConnState::SHR));
    assert_eq!(r.labels.app_protocol, AppProtocol::Https);
    assert_eq!(r.flow_id, 1);
    assert_eq!(r.labels.direction, FlowDirection::Outbound);
    assert_eq!(r.labels.egress_label, None);
}

#[test]
fn conn_states() {
    let cases: &[(&[(bool, u16)], ConnState)] = &[
        (&[(true, SYN)], ConnState::S0),
        (&[(true, SYN), (false, RST | ACK)], ConnState::REJ),
        (
            &[(true, SYN), (false, SYN | ACK), (true, ACK)],
            ConnState::S1,
        ),
        (
            &[
                (true, SYN),
                (false, SYN | ACK),
                (true, FIN | ACK),
                (false, FIN | ACK),
            ],
            ConnState::SF,
        ),
        (
            &[(true, SYN), (false, SYN | ACK), (true, FIN | ACK)],
            ConnState::S2,
        ),
        (
            &[(true, SYN), (false, SYN | ACK), (false, FIN | ACK)],
            ConnState::S3,
        ),
        (
            &[(true, SYN), (false, SYN | ACK), (true, RST)],
            ConnState::RSTO,
        ),
        (
            &[(true, SYN), (false, SYN | ACK), (false, RST)],
            ConnState::RSTR,
        ),
        (&[(true, SYN), (true, RST)], ConnState::RSTOS0),
        (&[(true, ACK), (false, ACK)], ConnState::OTH),
    ];
    for (pkts, want) in cases {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        for (i, (from_client, flags)) in pkts.iter().enumerate() {
            let (a, b) = if *from_client { (C, SV) } else { (SV, C) };
            t.packet(&g.pkt(i as i64, a, b, 6, *flags, 40), &[], &mut out);
        }
        t.flush(i64::MIN, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].conn_state, Some(*want), "{pkts:?}");
    }
}

#[test]
fn idle_timeout_splits_and_port_evidence_orients() {
    let mut g = Gen { seq: 0 };
    let mut t = table(FlowConfig::default());
    let mut out = Vec::new();
    // First packet comes from the DNS server: the client is still src.
    t.packet(
        &g.pkt(0, ("8.8.8.8", 53), ("192.168.1.5", 40000), 17, 0, 80),
        &[],
        &mut out,
    );
    t.packet(
        &g.pkt(200 * S, ("192.168.1.5", 40000), ("8.8.8.8", 53), 17, 0, 60),
        &[],
        &mut out,
    );
    assert_eq!(out.len(), 1, "the gap ended the first record on arrival");
    assert_eq!(out[0].end_reason, EndReason::IdleTimeout);
    assert_eq!(
        (out[0].src_port, out[0].dst_port, out[0].dst2src_packets),
        (40000, 53, 1)
    );
    t.flush(i64::MIN, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].end_reason, EndReason::ForcedEnd);
    assert_eq!(out[1].flow_id, 2);
}

#[test]
fn active_timeout_continues_with_the_same_orientation() {
    let cfg = FlowConfig {
        active_us: 10 * S,
        ..FlowConfig::default()
    };
    let mut g = Gen { seq: 0 };
    // Two tables: one sees ticks between packets, one does not; same rows.
    let mut rows = Vec::new();
    for ticks in [false, true] {
        let mut t = table(cfg);
        let mut out = Vec::new();
        for i in 0..25 {
            let (a, b) = if i % 2 == 0 {
                (C, ("52.112.1.1", 3478))
            } else {
                (("52.112.1.1", 3478), C)
            };
            t.packet(&g.pkt(i * S, a, b, 17, 0, 200), &[], &mut out);
            if ticks {
                t.advance(i * S + S / 2, &mut out);
            }
        }
        t.flush(i64::MIN, &mut out);
        let mut v: Vec<_> = out
            .iter()
            .map(|r| {
                (
                    r.first_seen_us,
                    r.end_reason,
                    r.src_port,
                    r.src2dst_packets + r.dst2src_packets,
                )
            })
            .collect();
        v.sort();
        rows.push(v);
    }
    assert_eq!(rows[0], rows[1]);
    let v = &rows[0];
    assert_eq!(v.len(), 3);
    assert_eq!(v[0], (0, EndReason::ActiveTimeout, 50123, 10));
    assert_eq!(v[1], (10 * S, EndReason::ActiveTimeout, 50123, 10));
    assert_eq!(v[2], (20 * S, EndReason::ForcedEnd, 50123, 5));
}

#[test]
fn full_table_evicts_the_longest_idle() {
    let cfg = FlowConfig {
        capacity: 2,
        ..FlowConfig::default()
    };
    let mut g = Gen { seq: 0 };
    let mut t = table(cfg);
    let mut out = Vec::new();
    t.packet(
        &g.pkt(0, ("10.0.0.1", 41000), ("10.0.0.2", 2000), 17, 0, 100),
        &[],
        &mut out,
    );
    t.packet(
        &g.pkt(1, ("10.0.0.1", 41001), ("10.0.0.2", 2000), 17, 0, 100),
        &[],
        &mut out,
    );
    t.packet(
        &g.pkt(2, ("10.0.0.1", 41000), ("10.0.0.2", 2000), 17, 0, 100),
        &[],
        &mut out,
    );
    t.packet(
        &g.pkt(3, ("10.0.0.1", 41002), ("10.0.0.2", 2000), 17, 0, 100),
        &[],
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].src_port, out[0].end_reason),
        (41001, EndReason::LackOfResources)
    );
    assert_eq!(t.counters.evicted, 1);
    assert_eq!(t.len(), 2);
    assert_eq!(out[0].labels.egress_label.as_deref(), Some("rfc1918"));
    assert_eq!(out[0].labels.egress_prefix.as_deref(), Some("10.0.0.0/8"));
    assert_eq!(out[0].labels.direction, FlowDirection::Internal);
}

#[test]
fn a_client_port_in_a_media_range_does_not_beat_443() {
    let mut g = Gen { seq: 0 };
    let mut t = table(FlowConfig::default());
    let mut out = Vec::new();
    t.packet(
        &g.pkt(0, SV, ("192.168.1.121", 53432), 6, ACK, 1500),
        &[],
        &mut out,
    );
    t.flush(i64::MIN, &mut out);
    assert_eq!((out[0].src_port, out[0].dst_port), (53432, 443));
}

fn rtp_payload(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut v = vec![0x80, 0];
    v.extend(seq.to_be_bytes());
    v.extend((u32::from(seq) * 160).to_be_bytes());
    v.extend(ssrc.to_be_bytes());
    v.extend([0u8; 160]);
    v
}

#[test]
fn media_is_tracked_from_the_first_packet_and_only_on_media_flows() {
    let mut g = Gen { seq: 0 };
    let mut t = table(FlowConfig::default());
    let mut out = Vec::new();
    let (a, b) = (("192.168.1.10", 50020), ("52.112.3.4", 3479));
    for i in 0..60u16 {
        let p = g.pkt(i64::from(i) * 20_000, a, b, 17, 0, 200);
        t.packet(&p, &rtp_payload(700 + i, 5), &mut out);
    }
    // A DNS query whose id starts like RTP: decided as DNS, no media.
    let q = g.pkt(0, ("192.168.1.10", 40000), ("192.168.1.1", 53), 17, 0, 60);
    let dns = [
        0x80, 0x01, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
    ];
    t.packet(&q, &dns, &mut out);
    t.flush(i64::MIN, &mut out);
    out.sort_by_key(|r| r.flow_id);
    assert_eq!(out[0].labels.app_protocol, AppProtocol::Rtp);
    let m = &out[0].labels.media;
    assert_eq!(m.streams.len(), 1);
    let s = &m.streams[0].stats;
    // The classifier decided after a few packets; the stream starts at the first.
    assert_eq!((s.first_seq, s.packets, s.expected), (700, 60, 60));
    assert_eq!(m.media_quality.map(|q| q.as_str()), Some("good"));
    assert_eq!(out[1].labels.app_protocol, AppProtocol::Dns);
    assert_eq!(out[1].labels.media, MediaFields::default());
}

#[test]
fn syn_after_close_starts_a_new_record() {
    let mut g = Gen { seq: 0 };
    let mut t = table(FlowConfig::default());
    let mut out = Vec::new();
    t.packet(&g.pkt(0, C, SV, 6, SYN, 60), &[], &mut out);
    t.packet(&g.pkt(1, SV, C, 6, RST | ACK, 40), &[], &mut out);
    t.packet(&g.pkt(2, C, SV, 6, SYN, 60), &[], &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].conn_state, out[0].end_reason),
        (Some(ConnState::REJ), EndReason::EndOfFlow)
    );
    t.flush(i64::MIN, &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].conn_state, Some(ConnState::S0));
    // A flow closed just before the end of input ended by itself.
    t.packet(&g.pkt(3, C, SV, 6, SYN, 60), &[], &mut out);
    t.packet(&g.pkt(4, SV, C, 6, RST | ACK, 40), &[], &mut out);
    t.flush(i64::MIN, &mut out);
    assert_eq!(
        out[1].end_reason,
        EndReason::ForcedEnd,
        "the open S0 attempt"
    );
    assert_eq!(out.last().unwrap().end_reason, EndReason::EndOfFlow);
}

/// The handshake keeps the low 32 bits of each time: round trips across a
/// wrap of those bits, and a SYN-ACK stamped before its SYN (clocks of two
/// capture ports), come out as the full-width subtraction gives them.
#[test]
fn handshake_round_trips_across_a_32_bit_wrap_and_backwards() {
    let wrap = 1_i64 << 32;
    let cases = [
        // (SYN, SYN-ACK, ACK) times: server and client round trips.
        (wrap - 1_000, wrap + 19_000, wrap + 24_000, 20_000, 5_000),
        (7 * wrap + 500, 7 * wrap + 300, 7 * wrap + 900, -200, 600),
        (
            1_700_000_000_000_000,
            1_700_000_000_045_000,
            1_700_000_000_046_000,
            45_000,
            1_000,
        ),
    ];
    for (syn, synack, ack, server, client) in cases {
        let mut g = Gen { seq: 0 };
        let mut t = table(FlowConfig::default());
        let mut out = Vec::new();
        t.packet(&g.pkt(syn, C, SV, 6, SYN, 60), &[], &mut out);
        t.packet(&g.pkt(synack, SV, C, 6, SYN | ACK, 60), &[], &mut out);
        t.packet(&g.pkt(ack, C, SV, 6, ACK, 52), &[], &mut out);
        t.flush(i64::MIN, &mut out);
        let r = &out[0];
        let ms = |us: i64| Some(us as f64 / 1000.0);
        assert_eq!(
            (r.labels.path.server_rtt_ms, r.labels.path.client_rtt_ms),
            (ms(server), ms(client)),
            "SYN {syn}"
        );
    }
}
