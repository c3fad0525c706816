//! The flow table driven by synthetic packets: deadlines, eviction, counters.

use super::*;

/// Bytes of the `flow_table` input header (the table's configuration).
pub const FLOW_HEADER: usize = 6;
/// Bytes per packet in a `flow_table` input.
pub const FLOW_PKT: usize = 8;
/// Packet-time unit of a `flow_table` input: one millisecond.
pub const FLOW_UNIT_US: i64 = 1_000;

/// Endpoint addresses a `flow_table` packet picks from (3 bits each).
pub const FLOW_ADDRS: [IpAddr; 8] = [
    IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    IpAddr::V4(Ipv4Addr::new(52, 112, 0, 1)),
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(Ipv4Addr::new(255, 255, 255, 255)),
    IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
];

/// Ports a `flow_table` packet picks from (4 bits each).
pub const FLOW_PORTS: [u16; 16] = [
    0, 53, 80, 443, 3478, 3479, 5061, 8057, 50000, 50001, 50123, 1024, 123, 22, 40000, 65535,
];

/// IP protocols a `flow_table` packet picks from (3 bits).
pub const FLOW_PROTOS: [u8; 8] = [6, 17, 1, 58, 132, 47, 6, 17];

/// Outer VLAN ids a `flow_table` packet picks from (2 bits).
pub const FLOW_VLANS: [u16; 4] = [0, 1, 100, 4095];

/// Start times a `flow_table` input picks from, including both ends of i64.
pub const FLOW_BASES: [i64; 4] = [
    1_700_000_000_000_000,
    0,
    i64::MAX - 300_000 * FLOW_UNIT_US,
    i64::MIN + 100 * FLOW_UNIT_US,
];

/// Table configuration from the 6-byte header:
/// capacity, idle, active, close linger, scan interval, start time.
pub fn flow_config(h: &[u8; FLOW_HEADER]) -> (FlowConfig, i64) {
    let [cap, idle, active, linger, scan, base] = *h;
    let cfg = FlowConfig {
        capacity: 1 + usize::from(cap % 8),
        idle_us: i64::from(idle) * 10 * FLOW_UNIT_US,
        active_us: i64::from(active) * 20 * FLOW_UNIT_US,
        close_linger_us: i64::from(linger) * FLOW_UNIT_US,
        scan_every_us: i64::from(scan) * 5 * FLOW_UNIT_US,
        ..FlowConfig::default()
    };
    let base = FLOW_BASES
        .get(usize::from(base % 4))
        .copied()
        .unwrap_or(0)
        .saturating_add(i64::from(base >> 2) * 1_000 * FLOW_UNIT_US);
    (cfg, base)
}

/// One synthetic packet of a `flow_table` input (8 bytes):
///
/// | byte | meaning |
/// | ---- | ------- |
/// | 0    | time step, signed, in ms (negative = reordered) |
/// | 1    | bits 0-2 source address, 3-5 destination address, 6 truncated, 7 tick after |
/// | 2    | bits 0-3 source port, 4-7 destination port |
/// | 3    | bits 0-2 protocol, 3-4 VLAN, 5-6 ip_len scale, 7 TCP NS flag |
/// | 4    | TCP flags, or the ICMP type |
/// | 5-6  | ip_len (big endian) |
/// | 7    | payload length; the ICMP code |
#[derive(Clone, Copy, Debug)]
pub struct SynthPkt {
    /// Time step in µs.
    pub step_us: i64,
    /// Sender.
    pub src: IpAddr,
    /// Receiver.
    pub dst: IpAddr,
    /// Sender port.
    pub sport: u16,
    /// Receiver port.
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// VLAN.
    pub vlan: u16,
    /// TCP flags (9 bits).
    pub tcp_flags: u16,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// IP length.
    pub ip_len: u32,
    /// Payload bytes.
    pub payload_len: u32,
    /// Cut by the snap length.
    pub truncated: bool,
    /// Call `advance` after this packet.
    pub tick: bool,
}

/// Reads one synthetic packet.
pub fn synth_pkt(b: &[u8; FLOW_PKT]) -> SynthPkt {
    let [step, ends, ports, kind, flags, len_hi, len_lo, extra] = *b;
    let pick_addr = |i: u8| FLOW_ADDRS.get(usize::from(i & 7)).copied();
    let pick_port = |i: u8| FLOW_PORTS.get(usize::from(i & 15)).copied().unwrap_or(0);
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let proto = FLOW_PROTOS.get(usize::from(kind & 7)).copied().unwrap_or(6);
    let icmp = matches!(proto, 1 | 58).then_some((flags, extra));
    let (sport, dport) = match proto {
        6 | 17 | 132 => (pick_port(ports), pick_port(ports >> 4)),
        // As the decoder does: the Community ID ports of the ICMP type.
        1 | 58 => {
            let (s, d, _) = pathlens_classify::community_id::icmp_ports(flags, extra, proto == 58);
            (s, d)
        }
        _ => (0, 0),
    };
    let tcp_flags = if proto == 6 {
        u16::from(flags) | (u16::from(kind >> 7) << 8)
    } else {
        0
    };
    let scale = (kind >> 5) & 3;
    let ip_len = u32::from(u16::from_be_bytes([len_hi, len_lo])) << (scale * 5);
    SynthPkt {
        step_us: i64::from(step as i8) * FLOW_UNIT_US,
        src: pick_addr(ends).unwrap_or(unspecified),
        dst: pick_addr(ends >> 3).unwrap_or(unspecified),
        sport,
        dport,
        proto,
        vlan: FLOW_VLANS
            .get(usize::from((kind >> 3) & 3))
            .copied()
            .unwrap_or(0),
        tcp_flags,
        icmp,
        ip_len,
        payload_len: u32::from(extra),
        truncated: ends & 0x40 != 0,
        tick: ends & 0x80 != 0,
    }
}

pub(crate) fn builtin_context() -> Arc<Knowledge> {
    static CTX: OnceLock<Arc<Knowledge>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| {
        let signatures = match Signatures::builtin() {
            Ok(s) => s,
            Err(e) => panic!("the built-in signatures do not parse: {e}"),
        };
        Arc::new(Knowledge {
            signatures,
            local: LocalNets::default(),
            egress: Default::default(),
            sensor_position: Default::default(),
        })
    });
    Arc::clone(ctx)
}

/// What a `flow_table` run did, for the regression test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowOutcome {
    /// Packets fed.
    pub packets: u64,
    /// Records that came out.
    pub records: u64,
    /// Records ended by eviction.
    pub evicted: u64,
    /// Records ended by an idle, active or close deadline.
    pub expired: u64,
}

/// Feeds the packets of a `flow_table` input to a small table with short
/// timeouts, ticking where asked and flushing at the end, and checks that
/// every packet, byte and payload byte comes out in exactly one record and
/// that the records and counters are consistent. `None` when the input is
/// shorter than its header.
pub fn check_flow_table(data: &[u8]) -> Option<FlowOutcome> {
    let (head, body) = data.split_first_chunk::<FLOW_HEADER>()?;
    let (cfg, base) = flow_config(head);
    let mut table = FlowTable::new(cfg, builtin_context());
    table.interface = Arc::from("fuzz");
    let mut out = Vec::new();
    let mut ts = base;
    let mut max_ts = i64::MIN;
    let mut seq = 0u64;
    let (mut pkts_in, mut bytes_in, mut payload_in) = (0u64, 0u64, 0u64);
    let payload_buf = [0x5au8; 255];
    for chunk in body.chunks_exact(FLOW_PKT) {
        let Some(b) = chunk.first_chunk::<FLOW_PKT>() else {
            break;
        };
        let s = synth_pkt(b);
        ts = ts.saturating_add(s.step_us);
        max_ts = max_ts.max(ts);
        seq += 1;
        let (key, from_lo) = FlowKey::new(s.src, s.sport, s.dst, s.dport, s.proto, s.vlan);
        let p = Pkt {
            seq,
            ts_us: ts,
            key,
            from_lo,
            ip_version: if s.src.is_ipv4() { 4 } else { 6 },
            ip_len: s.ip_len,
            payload_len: s.payload_len,
            tcp_flags: s.tcp_flags,
            icmp: s.icmp,
            truncated: s.truncated,
            sport: s.sport,
            dport: s.dport,
            edge: 0,
            l2: Default::default(),
            encap: Default::default(),
            tunnel_id: None,
        };
        let payload = payload_buf
            .get(..usize::try_from(s.payload_len).unwrap_or(0))
            .unwrap_or(&[]);
        let before = out.len();
        table.packet(&p, payload, &mut out);
        assert!(
            out.len() - before <= 1,
            "one packet ended {} records",
            out.len() - before
        );
        pkts_in += 1;
        bytes_in += u64::from(s.ip_len);
        payload_in += u64::from(s.payload_len);
        assert!(
            table.len() <= cfg.capacity,
            "{} entries in a table of capacity {}",
            table.len(),
            cfg.capacity
        );
        if s.tick {
            table.advance(ts, &mut out);
        }
    }
    let before_flush = out.len();
    table.flush(i64::MIN, &mut out);
    assert!(table.is_empty(), "flush left {} entries", table.len());

    let (mut pkts_out, mut bytes_out, mut payload_out) = (0u64, 0u64, 0u64);
    let mut ids = HashSet::new();
    let mut evicted = 0u64;
    let mut expired = 0u64;
    for (i, r) in out.iter().enumerate() {
        let n = r.src2dst_packets + r.dst2src_packets;
        assert!(n >= 1, "an empty record: {r:?}");
        assert!(r.truncated_packets <= n);
        assert!(r.first_seen_us <= r.last_seen_us, "first after last: {r:?}");
        let id = u64::try_from(r.flow_id).unwrap_or(0);
        assert!(
            (1..=seq).contains(&id),
            "flow_id {} is no packet's",
            r.flow_id
        );
        assert!(ids.insert(r.flow_id), "flow_id {} used twice", r.flow_id);
        assert_eq!(r.conn_state.is_some(), r.ip_proto == 6, "conn_state: {r:?}");
        assert!(r.community_id.starts_with("1:"));
        if !matches!(r.ip_proto, 6 | 17 | 132) {
            assert_eq!((r.src_port, r.dst_port), (0, 0), "ports on {}", r.ip_proto);
        }
        if i >= before_flush {
            assert!(
                !matches!(r.end_reason, EndReason::LackOfResources),
                "a flush ended a record for lack of resources"
            );
        } else {
            assert!(
                !matches!(r.end_reason, EndReason::ForcedEnd),
                "a forced end before the flush"
            );
        }
        match r.end_reason {
            EndReason::LackOfResources => evicted += 1,
            EndReason::ForcedEnd => {}
            _ => expired += 1,
        }
        pkts_out += n;
        bytes_out += r.src2dst_bytes + r.dst2src_bytes;
        payload_out += r.src2dst_payload_bytes + r.dst2src_payload_bytes;
    }
    assert_eq!(pkts_out, pkts_in, "packets in != packets out");
    assert_eq!(bytes_out, bytes_in, "bytes in != bytes out");
    assert_eq!(payload_out, payload_in, "payload bytes in != out");
    assert_eq!(evicted, table.counters.evicted, "evictions miscounted");
    let ended: u64 = table.counters.ended.values().sum();
    assert_eq!(ended, out.len() as u64, "ended counters != records");
    assert!(table.counters.flows_created <= pkts_in);
    Some(FlowOutcome {
        packets: pkts_in,
        records: out.len() as u64,
        evicted,
        expired,
    })
}
