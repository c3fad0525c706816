//! Classes that real traces of another network-analysis project showed
//! wrong: ESP over IPv6, NetBIOS name service, an SSLv2-format ClientHello
//! and an HTTP/0.9 request, each in a generated capture read end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use etherparse::{IpNumber, PacketBuilder};
use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, PSH, SYN};
use std::net::SocketAddr;
use std::path::Path;
use support::*;

const T0: i64 = 1_793_900_000_000_000;
const C: Eth = Eth::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
const S: Eth = Eth::new([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1]);

fn ep(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The app_protocol of every flow of `frames`, by destination port (0 for
/// port-less protocols).
fn classes(dir: &Path, frames: &[Vec<u8>]) -> Vec<String> {
    let pcap = dir.join("m.pcap");
    let mut w = PcapWriter::create(&pcap, 1, 65_535);
    for (i, f) in frames.iter().enumerate() {
        w.frame(T0 + i as i64 * 10_000, f);
    }
    w.finish();
    let out = dir.join("m.parquet");
    read_ok(&[pcap.to_str().unwrap(), "--force"], &out);
    rows_of(
        &read_batches(&out),
        &["ip_proto", "dst_port", "app_protocol"],
        " ",
    )
}

fn tcp_talk(c: SocketAddr, s: SocketAddr, request: &[u8], reply: &[u8]) -> Vec<Vec<u8>> {
    let seg = |flags, seq, ack| Tcp {
        seq,
        ack,
        flags,
        window: 64_000,
    };
    let n = request.len() as u32;
    vec![
        tcp_frame(C, c, s, seg(SYN, 1, 0), &[]),
        tcp_frame(S, s, c, seg(SYN | ACK, 100, 2), &[]),
        tcp_frame(C, c, s, seg(ACK, 2, 101), &[]),
        tcp_frame(C, c, s, seg(ACK | PSH, 2, 101), request),
        tcp_frame(S, s, c, seg(ACK | PSH, 101, 2 + n), reply),
    ]
}

/// ESP (IP protocol 50) right after an IPv6 header is `ipsec`, as over IPv4.
#[test]
fn esp_over_ipv6_is_ipsec() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for seq in 1..=6u32 {
        for (a, b) in [([0x20; 16], [0x30; 16]), ([0x30; 16], [0x20; 16])] {
            let mut esp = 0x0000_1234u32.to_be_bytes().to_vec();
            esp.extend(seq.to_be_bytes());
            esp.extend((0..96).map(|i: u32| (i * 7 + seq) as u8));
            let mut f = Vec::new();
            PacketBuilder::ethernet2([2; 6], [3; 6])
                .ipv6(a, b, 64)
                .write(&mut f, IpNumber(50), &esp)
                .unwrap();
            frames.push(f);
        }
    }
    assert_eq!(classes(dir.path(), &frames), vec!["50 0 ipsec"]);
}

/// RFC 1002 §4.2.12: a NetBIOS name query (opcode 0, B flag 0x0010, one
/// question of the 32-byte first-level encoded name, type NB 0x0020) is
/// byte-compatible with a DNS header, but UDP 137 is not DNS.
#[test]
fn netbios_name_service_is_not_dns() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = vec![0x81, 0x02, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20];
    q.extend(b"FHEPFCELEHFCEPFFFACACACACACACAAA");
    q.extend([0, 0, 0x20, 0, 1]);
    // The positive response: flags 0x8500, one answer (the name, NB, IN,
    // TTL, RDLENGTH 6, NB flags and the address).
    let mut r = vec![0x81, 0x02, 0x85, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x20];
    r.extend(b"FHEPFCELEHFCEPFFFACACACACACACAAA");
    r.extend([
        0, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6, 0, 0, 10, 1, 0, 9,
    ]);
    let (a, b) = (ep("10.1.0.5:137"), ep("10.1.0.9:137"));
    let frames = vec![udp_frame(C, a, b, &q), udp_frame(S, b, a, &r)];
    let got = classes(dir.path(), &frames);
    assert_eq!(got.len(), 1);
    assert!(!got[0].ends_with(" dns"), "{got:?}");
}

/// An SSLv2-format ClientHello (RFC 6101 appendix E.2: a 2-byte record
/// header with the high bit set, message type 1, then version 3.x) opens
/// TLS as a v3 hello does.
#[test]
fn sslv2_client_hello_is_tls() {
    let dir = tempfile::tempdir().unwrap();
    // 0x80 | length, ClientHello, version 3.1, cipher spec length 3,
    // session id length 0, challenge length 16.
    let mut h = vec![
        0x80, 0x1c, 0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10,
    ];
    h.extend([0x00, 0x00, 0x2f]);
    h.extend([0x5a; 16]);
    assert_eq!(h.len(), 2 + 0x1c);
    let reply = [0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0, 0, 0];
    let frames = tcp_talk(ep("10.1.0.5:50000"), ep("10.9.9.9:8443"), &h, &reply);
    assert_eq!(classes(dir.path(), &frames), vec!["6 8443 tls"]);
}

/// An HTTP/0.9 request (RFC 1945 §4.1: `GET` SP path CRLF, no version)
/// opens HTTP, answered by the bare body.
#[test]
fn http09_request_is_http() {
    let dir = tempfile::tempdir().unwrap();
    let frames = tcp_talk(
        ep("10.1.0.5:50001"),
        ep("10.9.9.9:8080"),
        b"GET /index.html\r\n",
        b"<html>hello</html>",
    );
    assert_eq!(classes(dir.path(), &frames), vec!["6 8080 http"]);
}

/// A G.711 call with no SDP in sight: PCMU, a silence of comfort noise
/// (PT 13, one packet per 150 ms, each with its own sampling instant), and
/// an RFC 4733 digit on the unbound dynamic type 101 (the event's start
/// timestamp on all of its packets, the end packet thrice), packets exactly
/// on time. The audio jitter is that of the PCMU packets: about 0 here,
/// where feeding the events and CN into it gave a maximum of seconds.
#[test]
fn g711_with_events_and_comfort_noise_keeps_its_jitter() {
    use pathlens_benches::payload;
    let dir = tempfile::tempdir().unwrap();
    let (c, s) = (ep("192.168.7.14:50020"), ep("203.0.113.9:50030"));
    let mut frames = Vec::new();
    let mut times = Vec::new();
    let mut now = T0;
    let mut seq = 1000u16;
    let mut send = |frames: &mut Vec<Vec<u8>>, now: i64, pt: u8, ts: u32, body: &[u8]| {
        frames.push(udp_frame(C, c, s, &payload::rtp(pt, seq, ts, 0xFA, body)));
        times.push(now);
        seq = seq.wrapping_add(1);
    };
    let pcmu = [0xffu8; 160];
    let mut ts = 0u32;
    for _ in 0..150 {
        send(&mut frames, now, 0, ts, &pcmu);
        now += 20_000;
        ts += 160;
    }
    // Two seconds of silence: CN every 150 ms.
    for _ in 0..13 {
        send(&mut frames, now, 13, ts, &[0x40]);
        now += 150_000;
        ts += 1200;
    }
    for _ in 0..100 {
        send(&mut frames, now, 0, ts, &pcmu);
        now += 20_000;
        ts += 160;
    }
    // A digit of 9 packets, 20 ms apart, all stamped with its start.
    let start = ts;
    for k in 0..9u16 {
        let end = if k >= 6 { 0x80 } else { 0 };
        let dur = (k + 1) * 160;
        let pt = if k == 0 {
            101 | payload::RTP_MARKER
        } else {
            101
        };
        send(
            &mut frames,
            now,
            pt,
            start,
            &[1, end | 0x0a, (dur >> 8) as u8, dur as u8],
        );
        now += 20_000;
        ts += 160;
    }
    for _ in 0..150 {
        send(&mut frames, now, 0, ts, &pcmu);
        now += 20_000;
        ts += 160;
    }
    let pcap = dir.path().join("g711.pcap");
    let mut w = PcapWriter::create(&pcap, 1, 65_535);
    for (f, t) in frames.iter().zip(&times) {
        w.frame(*t, f);
    }
    w.finish();
    let out = dir.path().join("g711.parquet");
    read_ok(&[pcap.to_str().unwrap(), "--force"], &out);
    let streams = read_batches(&dir.path().join("g711.streams.parquet"));
    let got = rows_of(
        &streams,
        &["payload_type", "jitter_max_ms", "jitter_mean_ms"],
        " ",
    );
    assert_eq!(got.len(), 1, "{got:?}");
    let f: Vec<&str> = got[0].split(' ').collect();
    assert_eq!(f[0], "0", "{got:?}");
    let max: f64 = f[1].parse().unwrap();
    assert!(max <= 1.0, "jitter max {max} ms: {got:?}");
}

/// An SRTCP packet (RFC 3711 §3.4): an RR in the clear for its first 8
/// bytes, the rest of the compound (an SDES) encrypted, the E flag and
/// SRTCP index, and an 80-bit authentication tag.
fn srtcp(ssrc: u32, index: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend(ssrc.to_be_bytes());
    // The report block and the SDES chunk, encrypted: noise.
    p.extend((0..36u32).map(|i| (i.wrapping_mul(151) ^ index.wrapping_mul(17)) as u8 | 1));
    p.extend((0x8000_0000 | index).to_be_bytes());
    p.extend([0xa5; 10]);
    p
}

/// SRTCP on a port pair with no RTP next to it is RTCP: its first header
/// validates, its length chain runs into the encrypted part, and the tail
/// is the E-flag/index word and a 4 + 0/4/10-byte trailer.
#[test]
fn srtcp_alone_is_rtcp() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ep("10.1.0.7:50011"), ep("52.113.9.9:3481"));
    let mut frames = Vec::new();
    for i in 1..=8u32 {
        frames.push(udp_frame(C, a, b, &srtcp(0x1111, i)));
        frames.push(udp_frame(S, b, a, &srtcp(0x2222, i)));
    }
    assert_eq!(classes(dir.path(), &frames), vec!["17 3481 rtcp"]);
}

/// `pathlens score` counts both new classes: ESP over IPv6 as `ipsec` (its
/// label spelling the addresses in full, as other tools write them) and
/// SRTCP alone as `rtcp`.
#[test]
fn score_counts_ipsec_over_ipv6_and_srtcp() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for seq in 1..=4u32 {
        let mut esp = 0x0000_1234u32.to_be_bytes().to_vec();
        esp.extend(seq.to_be_bytes());
        esp.extend([0x77; 64]);
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2; 6], [3; 6])
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .write(&mut f, IpNumber(50), &esp)
            .unwrap();
        frames.push(f);
    }
    let (a, b) = (ep("10.1.0.7:50011"), ep("52.113.9.9:3481"));
    for i in 1..=8u32 {
        frames.push(udp_frame(C, a, b, &srtcp(0x1111, i)));
        frames.push(udp_frame(S, b, a, &srtcp(0x2222, i)));
    }
    let _ = classes(dir.path(), &frames);
    let labels = dir.path().join("labels.tsv");
    std::fs::write(
        &labels,
        "file\ttransport\taddr_a\tport_a\taddr_b\tport_b\tapp\n\
         m.pcap\tother\t2001:0DB8:0000:0000:0000:0000:0000:0001\t0\t2001:db8::2\t0\tipsec\n\
         m.pcap\tudp\t10.1.0.7\t50011\t52.113.9.9\t3481\trtcp\n",
    )
    .unwrap();
    let o = pathlens(&[
        "score",
        "--labels",
        labels.to_str().unwrap(),
        dir.path().join("m.parquet").to_str().unwrap(),
    ]);
    let report = String::from_utf8_lossy(&o.stdout);
    let acc = report.lines().find(|l| l.starts_with("accuracy ")).unwrap();
    assert!(acc.starts_with("accuracy 1.0000"), "{report}");
    assert!(acc.contains("of 2 labelled flows"), "{report}");
}
