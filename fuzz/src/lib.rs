//! Harness logic shared by the fuzz targets and by the regression test
//! `capture/tests/fuzz_regressions.rs` (which loads this file as a module),
//! so a saved input is replayed through exactly the checks that found it.
//!
//! Every `check_*` function takes raw fuzz bytes, drives one entry point and
//! panics when an invariant does not hold. Whatever it returns only helps the
//! regression test tell that the code under test still does real work.

use pathlens::decode::{decode, Decoded, Frag, FragTracker, Skip};
use pathlens::flow::{FlowConfig, FlowTable, Knowledge, Pkt};
use pathlens::link::{peel, L2Error, LinkType};
use pathlens::pipeline::{run, RunOptions};
use pathlens::source::{MemorySource, PacketSource, SourceError};
use pathlens_classify::prefix::LocalNets;
use pathlens_classify::{EndReason, FlowKey, PortRules, RuleError, Signatures};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};

// ---------------------------------------------------------------- decode ---

/// Link types in the order the low nibble of a `decode` input's first byte
/// selects them (the nibble is taken modulo 14).
pub const LINKS: [LinkType; 14] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::CiscoHdlc,
    LinkType::Ppp,
    LinkType::PppHdlc,
    LinkType::PppEther,
    LinkType::PppWithDir,
    LinkType::CiscoHdlcWithDir,
];

/// The selector byte a `decode` input starts with for a link type, with the
/// wire length equal to the captured length.
pub fn link_selector(link: LinkType) -> u8 {
    LINKS
        .iter()
        .position(|&l| l == link)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

/// A `decode` input split into its parts.
#[derive(Clone, Copy, Debug)]
pub struct DecodeInput<'a> {
    /// The link type (low nibble of byte 0, modulo 14).
    pub link: LinkType,
    /// The captured frame (bytes 1..).
    pub frame: &'a [u8],
    /// The wire length (high nibble of byte 0): 0 means the frame's length,
    /// 1..=14 the frame's length plus 2^(n-1) (a snap-length cut), 15 half the
    /// frame's length (a capture header that lies).
    pub wire_len: u32,
    /// Whether `wire_len >= frame.len()`, as every real source guarantees.
    pub honest: bool,
}

/// Splits a `decode` input; `None` for the empty input.
pub fn split_decode_input(data: &[u8]) -> Option<DecodeInput<'_>> {
    let (&sel, frame) = data.split_first()?;
    let link = LINKS
        .get(usize::from(sel & 0x0f) % LINKS.len())
        .copied()
        .unwrap_or(LinkType::Ethernet);
    let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let mode = sel >> 4;
    let wire_len = match mode {
        0 => caplen,
        15 => caplen / 2,
        n => caplen.saturating_add(1 << (n - 1)),
    };
    Some(DecodeInput {
        link,
        frame,
        wire_len,
        honest: wire_len >= caplen,
    })
}

fn in_frame(frame: &[u8], part: &[u8]) -> bool {
    let f = frame.as_ptr_range();
    let p = part.as_ptr_range();
    p.start >= f.start && p.end <= f.end
}

/// Decodes one fuzz input (selector byte + frame), checks the result against
/// `peel` and the decode invariants, then runs it through a [`FragTracker`].
/// Returns the decode outcome; `None` for the empty input.
pub fn check_decode(data: &[u8]) -> Option<Result<(), Skip>> {
    let inp = split_decode_input(data)?;
    let DecodeInput {
        link,
        frame,
        wire_len,
        honest,
    } = inp;
    let l2 = peel(link, frame);
    let r = decode(link, frame, wire_len);

    // The same frame with an honest wire length must decode to the same
    // packet: the wire length only ever fills in a missing IP length.
    let again = decode(link, frame, u32::try_from(frame.len()).unwrap_or(u32::MAX));
    match (&r, &again) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                (a.src, a.dst, a.sport, a.dport, a.proto, a.frag, a.payload),
                (b.src, b.dst, b.sport, b.dport, b.proto, b.frag, b.payload),
                "the wire length changed more than the lengths"
            );
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "the wire length changed the skip reason"),
        _ => panic!("the wire length changed whether the frame decodes: {r:?} vs {again:?}"),
    }
    assert_eq!(
        r,
        decode(link, frame, wire_len),
        "decode is not deterministic"
    );

    let d = match (l2, r) {
        (Err(L2Error::NotIp), r) => {
            assert_eq!(r.err(), Some(Skip::NotIp), "peel said NotIp");
            return Some(Err(Skip::NotIp));
        }
        (Err(L2Error::Truncated), r) => {
            assert_eq!(r.err(), Some(Skip::LinkTruncated), "peel said Truncated");
            return Some(Err(Skip::LinkTruncated));
        }
        (Ok(l2), r) => {
            assert!(
                l2.ip_offset < frame.len(),
                "peel's ip_offset is past the frame"
            );
            assert!(matches!(l2.ip_version, 4 | 6));
            assert!(l2.vlan <= 0x0fff, "vlan {} is not 12 bits", l2.vlan);
            match r {
                Err(s) => {
                    assert!(
                        matches!(s, Skip::BadIpHeader | Skip::TransportTruncated),
                        "the link layer was fine, yet decode says {s:?}"
                    );
                    return Some(Err(s));
                }
                Ok(d) => {
                    assert_eq!((d.ip_version, d.vlan), (l2.ip_version, l2.vlan));
                    assert_eq!((d.src_mac, d.dst_mac), (l2.src_mac, l2.dst_mac));
                    if !d.payload.is_empty() {
                        let ip = frame.get(l2.ip_offset..).unwrap_or(&[]);
                        assert!(in_frame(ip, d.payload), "payload outside the IP bytes");
                        let min_hdr = if d.ip_version == 4 { 20 } else { 40 };
                        let start = d.payload.as_ptr() as usize - ip.as_ptr() as usize;
                        assert!(start >= min_hdr, "payload starts inside the IP header");
                    }
                    d
                }
            }
        }
    };
    check_decoded(link, frame, honest, &d);
    check_frag_tracker(&d);
    Some(Ok(()))
}

fn check_decoded(link: LinkType, frame: &[u8], honest: bool, d: &Decoded<'_>) {
    assert!(
        d.payload.is_empty() || in_frame(frame, d.payload),
        "payload is not a sub-slice of the frame"
    );
    assert!(d.payload.len() <= frame.len());
    match d.ip_version {
        4 => assert!(d.src.is_ipv4() && d.dst.is_ipv4(), "v4 with {:?}", d.src),
        6 => assert!(d.src.is_ipv6() && d.dst.is_ipv6(), "v6 with {:?}", d.src),
        v => panic!("ip_version {v}"),
    }
    if honest {
        let min = if d.ip_version == 4 { 20 } else { 40 };
        assert!(
            d.ip_len >= min,
            "ip_len {} below the IPv{} header",
            d.ip_len,
            d.ip_version
        );
    }
    assert!(
        d.payload_len <= d.ip_len,
        "payload_len {} > ip_len {}",
        d.payload_len,
        d.ip_len
    );
    assert_eq!(d.src_mac.is_some(), link == LinkType::Ethernet);
    assert_eq!(d.dst_mac.is_some(), link == LinkType::Ethernet);
    assert!(d.tcp_flags <= 0x1ff, "tcp_flags {:#x}", d.tcp_flags);
    if d.proto != 6 {
        assert_eq!(d.tcp_flags, 0, "tcp flags on protocol {}", d.proto);
    }
    if d.icmp.is_some() {
        assert!(
            matches!(d.proto, 1 | 58),
            "icmp type on protocol {}",
            d.proto
        );
    }
    let later = d.frag.is_some_and(|f| !f.first);
    if later || !matches!(d.proto, 1 | 6 | 17 | 58 | 132) {
        assert_eq!(
            (d.sport, d.dport),
            (0, 0),
            "ports without a transport header"
        );
        assert_eq!(d.icmp, None);
    }
    if !later && matches!(d.proto, 6 | 17 | 132) {
        // The fixed transport header was captured, so the payload slice is
        // what follows it.
        let hdr = match d.proto {
            17 => 8,
            132 => 12,
            _ => 20,
        };
        assert!(d.payload_len <= d.ip_len.saturating_sub(hdr));
    }
}

/// Runs a decoded packet through a fresh [`FragTracker`]: a first fragment
/// must lend its ports to its later fragments until the last one, and a later
/// fragment with no first fragment must stay port-less.
fn check_frag_tracker(d: &Decoded<'_>) {
    let mut t = FragTracker::default();
    let mut d1 = d.clone();
    let ok = t.resolve(&mut d1);
    let tracked = matches!(d.proto, 6 | 17 | 132);
    match d.frag {
        Some(f) if tracked && !f.first => {
            assert!(!ok, "a later fragment resolved in an empty tracker");
            assert_eq!(&d1, d, "an unresolved fragment changed");
        }
        Some(f) if tracked => {
            assert!(ok);
            assert_eq!(&d1, d, "a first fragment changed");
            let mut later = d.clone();
            later.sport = 0;
            later.dport = 0;
            later.frag = Some(Frag {
                id: f.id,
                first: false,
                more: true,
            });
            let mut middle = later.clone();
            assert!(t.resolve(&mut middle), "a middle fragment found no first");
            assert_eq!((middle.sport, middle.dport), (d.sport, d.dport));
            let mut last = later.clone();
            last.frag = Some(Frag {
                id: f.id,
                first: false,
                more: false,
            });
            assert!(t.resolve(&mut last), "the last fragment found no first");
            assert_eq!((last.sport, last.dport), (d.sport, d.dport));
            let mut stray = later.clone();
            assert!(
                !t.resolve(&mut stray),
                "the last fragment did not end the entry"
            );
            assert_eq!((stray.sport, stray.dport), (0, 0));
        }
        _ => {
            assert!(ok, "an unfragmented packet failed to resolve");
            assert_eq!(&d1, d, "resolve changed an unfragmented packet");
        }
    }
}

// ------------------------------------------------------------ flow table ---

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

fn builtin_context() -> Arc<Knowledge> {
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

// ------------------------------------------------------------ port rules ---

/// Parses fuzz bytes as a port-rule file. Non-UTF-8 input is skipped
/// (`None`): rule files are read as strings. An error must name the file and
/// a 1-based line that exists in the text (counting the empty line after a
/// final newline, where an unexpected end of input is reported). A file that
/// parses must parse the same way again, and its lookups must be consistent.
pub fn check_port_rules(data: &[u8]) -> Option<Result<usize, usize>> {
    let text = std::str::from_utf8(data).ok()?;
    const FILE: &str = "fuzz.toml";
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    match PortRules::parse(text, FILE) {
        Err(e) => {
            let msg = e.to_string();
            match e {
                RuleError::Invalid {
                    file,
                    line,
                    message,
                } => {
                    assert_eq!(file, FILE);
                    assert!(
                        (1..=lines).contains(&line),
                        "error at line {line} of a {lines}-line text: {message}"
                    );
                    assert!(
                        msg.starts_with(&format!("{FILE}:{line}: ")),
                        "badly formed error {msg:?}"
                    );
                    Some(Err(line))
                }
                RuleError::Io { .. } => panic!("parsing a string gave an I/O error: {msg}"),
            }
        }
        Ok(rules) => {
            let again = match PortRules::parse(text, FILE) {
                Ok(r) => r,
                Err(e) => panic!("a text that parsed once fails the second time: {e}"),
            };
            use pathlens_classify::Transport;
            let mut covered = 0usize;
            for port in (0..=u16::MAX).step_by(251).chain([0, 53, 443, 3478, 65535]) {
                for t in [Transport::Tcp, Transport::Udp, Transport::Icmp] {
                    let a = rules.get(t, port);
                    assert_eq!(a, again.get(t, port), "re-parse differs at {t:?}/{port}");
                    if t == Transport::Icmp {
                        assert!(a.is_none(), "an ICMP port rule");
                    }
                    covered += usize::from(a.is_some());
                }
                let rank = rules.server_rank(Transport::Udp, port);
                let named = rules.get(Transport::Udp, port).is_some_and(|r| !r.wide);
                assert!(
                    (port != 0 && port < 1024 && rank == 3)
                        || (rank == 2) == named && rank != 1 && rank != 3,
                    "server rank {rank} for udp/{port}"
                );
            }
            Some(Ok(covered))
        }
    }
}

// -------------------------------------------------------------- pipeline ---

/// Frames of a [`MemorySource`]: (time in µs, wire length, bytes).
pub type Frames = Vec<(i64, u32, Vec<u8>)>;

/// Splits a `pipeline` input: byte 0 chooses the link type (low nibble, as
/// for `decode`) and the worker count (bit 4: two workers), then frames
/// follow, each as a 1-byte time step in ms, a 1-byte snap cut (bytes of the
/// frame not captured) and a 2-byte big-endian length.
pub fn split_pipeline_input(data: &[u8]) -> Option<(LinkType, usize, Frames)> {
    let (&sel, mut rest) = data.split_first()?;
    let link = LINKS
        .get(usize::from(sel & 0x0f) % LINKS.len())
        .copied()
        .unwrap_or(LinkType::Ethernet);
    let workers = 1 + usize::from((sel >> 4) & 1);
    let mut frames = Vec::new();
    let mut ts = 1_700_000_000_000_000i64;
    while let Some((h, tail)) = rest.split_first_chunk::<4>() {
        let [step, cut, hi, lo] = *h;
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        ts = ts.saturating_add(i64::from(step) * 1_000);
        let wire = u32::try_from(frame.len()).unwrap_or(u32::MAX) + u32::from(cut);
        frames.push((ts, wire, frame.to_vec()));
        rest = tail;
    }
    Some((link, workers, frames))
}

/// Runs a whole pipeline over the frames of a `pipeline` input (no output
/// file) and checks that every frame is accounted for once and that the
/// flow records hold every decoded packet.
pub fn check_pipeline(data: &[u8]) -> Option<u64> {
    let (link, workers, frames) = split_pipeline_input(data)?;
    let dlt = match link {
        LinkType::Ethernet => 1,
        LinkType::Null => 0,
        LinkType::Loop => 108,
        LinkType::Raw => 101,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::LinuxSll => 113,
        LinkType::LinuxSll2 => 276,
        LinkType::CiscoHdlc => 104,
        LinkType::Ppp => 9,
        LinkType::PppHdlc => 50,
        LinkType::PppEther => 51,
        LinkType::PppWithDir => 204,
        LinkType::CiscoHdlcWithDir => 205,
    };
    let n = frames.len() as u64;
    let src: Box<dyn PacketSource> = Box::new(MemorySource::new("fuzz", dlt, frames));
    let opts = RunOptions {
        workers,
        flow: FlowConfig {
            capacity: 4,
            idle_us: 50_000,
            active_us: 200_000,
            close_linger_us: 10_000,
            scan_every_us: 20_000,
            ..FlowConfig::default()
        },
        output: None,
        dataset: false,
        writer: pathlens_export::WriterOptions {
            compression: pathlens_export::Compression::default(),
            run_id: "fuzz".into(),
            sensor: "fuzz".into(),
        },
        metadata: Vec::new(),
    };
    let sources: Vec<Result<Box<dyn PacketSource>, SourceError>> = vec![Ok(src)];
    let report = run(sources, &opts, builtin_context(), &mut ());
    assert!(
        !report.failed(),
        "{:?} {:?}",
        report.failures,
        report.output_error
    );
    let rc = &report.counters.read;
    assert_eq!(rc.packets_read, n);
    assert_eq!(
        rc.packets_decoded + rc.not_ip + rc.malformed_total(),
        rc.packets_read,
        "frames not accounted for: {rc:?}"
    );
    assert!(rc.fragments_untracked <= rc.fragments);
    assert_eq!(
        report.summary.total.packets, rc.packets_decoded,
        "decoded packets missing from the records"
    );
    assert_eq!(report.summary.total.flows, report.counters.records_written);
    Some(rc.packets_decoded)
}
