//! VPN tunnels end to end: a generated capture of IKEv2 on UDP 500, NAT
//! traversal on UDP 4500 (IKE behind the non-ESP marker, keepalives, then
//! ESP in UDP), ESP and AH on their own IP protocols, a tunnel carrying a
//! call's cadence and one carrying a bulk transfer. Each flow's
//! `app_protocol`, `traffic_type` and `tunnel_media_suspected` is checked,
//! and tshark's dissection of the same frames is compared.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use etherparse::{IpNumber, PacketBuilder};
use pathlens_benches::frame::{udp_frame, Eth};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use support::*;

const CLIENT: [u8; 4] = [10, 7, 0, 5];
const GATEWAY: [u8; 4] = [81, 2, 69, 10];
const MAC_C: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_G: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// An IKEv2 header of `len` bytes in all (RFC 7296 §3.1): `exchange` 34
/// IKE_SA_INIT, 35 IKE_AUTH, 37 INFORMATIONAL; `response` sets the R flag.
fn ike(spi: u64, exchange: u8, response: bool, len: usize) -> Vec<u8> {
    let mut m = spi.to_be_bytes().to_vec();
    m.extend(if response { [0x11; 8] } else { [0; 8] });
    // Next payload SA (33) for IKE_SA_INIT, else Encrypted (46).
    m.push(if exchange == 34 { 33 } else { 46 });
    m.push(0x20);
    m.push(exchange);
    m.push(if response { 0x20 } else { 0x08 });
    m.extend(0u32.to_be_bytes());
    m.extend(u32::try_from(len).unwrap().to_be_bytes());
    m.resize(len, 0x5a);
    m
}

/// An ESP packet: SPI, sequence, `len - 8` bytes of "ciphertext".
fn esp(spi: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut m = spi.to_be_bytes().to_vec();
    m.extend(seq.to_be_bytes());
    m.extend((0..len.saturating_sub(8)).map(|i| (i as u8).wrapping_mul(37) ^ seq as u8));
    m
}

fn ip_frame(from_client: bool, proto: u8, payload: &[u8]) -> Vec<u8> {
    let (s, d, ms, md) = if from_client {
        (CLIENT, GATEWAY, MAC_C, MAC_G)
    } else {
        (GATEWAY, CLIENT, MAC_G, MAC_C)
    };
    let mut f = Vec::new();
    PacketBuilder::ethernet2(ms, md)
        .ipv4(s, d, 64)
        .write(&mut f, IpNumber(proto), payload)
        .unwrap();
    f
}

fn udp(from_client: bool, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let (c, g) = (
        IpAddr::V4(Ipv4Addr::from(CLIENT)),
        IpAddr::V4(Ipv4Addr::from(GATEWAY)),
    );
    if from_client {
        udp_frame(Eth::new(MAC_C, MAC_G), (c, sport), (g, dport), payload)
    } else {
        udp_frame(Eth::new(MAC_G, MAC_C), (g, dport), (c, sport), payload)
    }
}

/// Writes the capture; returns, per flow key `proto sport dport`, what
/// pathlens should say: app, traffic type, tunnel_media_suspected.
fn write(pcap: &Path) -> HashMap<String, [&'static str; 3]> {
    let mut w = PcapWriter::create(pcap, 1, 65_535);
    let mut t = 1_793_900_000_000_000i64;
    // IKEv2 on 500: SA_INIT and AUTH exchanges.
    for (x, len) in [(34, 336), (35, 400)] {
        w.frame(
            t,
            &udp(true, 500, 500, &ike(0x8f54_bf6d_8b48_e6e1, x, false, len)),
        );
        w.frame(
            t + 20_000,
            &udp(false, 500, 500, &ike(0x8f54_bf6d_8b48_e6e1, x, true, len)),
        );
        t += 100_000;
    }
    // NAT-T on 4500 from a NATed port: marker + IKE, a keepalive, then a
    // call's cadence in ESP in UDP: 300 packets each way, 20 ms apart
    // with up to 3 ms of jitter, 200 bytes.
    let nat = |p: &[u8]| [&[0u8, 0, 0, 0][..], p].concat();
    w.frame(t, &udp(true, 61_001, 4500, &nat(&ike(0x77, 37, false, 80))));
    w.frame(
        t + 15_000,
        &udp(false, 61_001, 4500, &nat(&ike(0x77, 37, true, 80))),
    );
    w.frame(t + 30_000, &udp(true, 61_001, 4500, &[0xff]));
    t += 100_000;
    for i in 0..300u32 {
        let j = i64::from(i % 7) * 1000 - 3000;
        w.frame(
            t + j,
            &udp(true, 61_001, 4500, &esp(0xc0a8_1234, i + 1, 170)),
        );
        w.frame(
            t + 9_000 - j,
            &udp(false, 61_001, 4500, &esp(0x0a0b_0c0d, i + 1, 170)),
        );
        t += 20_000;
    }
    // NAT-T that only kept the mapping alive.
    w.frame(
        t,
        &udp(true, 61_002, 4500, &nat(&ike(0x78, 34, false, 300))),
    );
    w.frame(t + 1_000, &udp(true, 61_002, 4500, &[0xff]));
    // ESP on IP protocol 50: a bulk transfer (full-size one way, small
    // acknowledgements back, 1 ms apart).
    t += 100_000;
    for i in 0..400u32 {
        w.frame(t, &ip_frame(true, 50, &esp(0x1000_0001, i + 1, 1400)));
        w.frame(t + 300, &ip_frame(false, 50, &esp(0x2000_0002, i + 1, 60)));
        t += 1_000;
    }
    // AH on IP protocol 51: next header TCP, 24 bytes of header + ICV,
    // then a SYN from 50000 to 443. AH authenticates but does not encrypt
    // (RFC 4302), so the decoder steps over it like any IP extension header
    // and the flow is the TCP one inside, as tshark shows it (ah, then tcp).
    let mut ah = vec![6, 4, 0, 0];
    ah.extend(0x3000_0003u32.to_be_bytes());
    ah.extend(1u32.to_be_bytes());
    ah.extend([0u8; 12]);
    ah.extend(50_000u16.to_be_bytes());
    ah.extend(443u16.to_be_bytes());
    ah.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    w.frame(t, &ip_frame(true, 51, &ah));
    HashMap::from([
        ("17 500 500".to_string(), ["ike", "tunnel", "false"]),
        ("17 61001 4500".to_string(), ["ipsec", "tunnel", "true"]),
        ("17 61002 4500".to_string(), ["ike", "tunnel", "false"]),
        ("50 0 0".to_string(), ["ipsec", "tunnel", "false"]),
        ("6 50000 443".to_string(), ["https", "other", ""]),
    ])
}

#[test]
fn ipsec_ike_nat_traversal_and_media_cadence_in_a_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("tunnels.pcap");
    let want = write(&pcap);
    let out = dir.path().join("out.parquet");
    read_ok(&[pcap.to_str().unwrap()], &out);
    let b = read_batches(&out);
    let got: Vec<String> = rows_of(
        &b,
        &[
            "ip_proto",
            "src_port",
            "dst_port",
            "app_protocol",
            "traffic_type",
            "tunnel_media_suspected",
            "path_note",
        ],
        "|",
    );
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for row in &got {
        let f: Vec<&str> = row.split('|').collect();
        let key = f[..3].join(" ");
        let w = want
            .get(&key)
            .unwrap_or_else(|| panic!("unexpected flow {row}"));
        assert_eq!(&f[3..6], w, "{key}");
        assert_eq!(
            f[6].contains("media cadence inside a VPN tunnel"),
            w[2] == "true",
            "{row}"
        );
    }
}

/// tshark names the same frames isakmp (IKE), udpencap (NAT-T: marker,
/// keepalive, ESP in UDP), esp and ah (then the TCP inside, as pathlens
/// does). It and pathlens agree on every
/// frame; the one nuance is naming: tshark calls the 4500 flow's ESP
/// frames "esp" and pathlens the flow `ipsec`, its IKE-only 4500 flow
/// `ike` (both say NAT-T carries IKE or ESP, RFC 3948 §2).
#[test]
fn tshark_dissects_the_generated_tunnels_alike() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("tunnels.pcap");
    write(&pcap);
    let out = tool(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "ip.proto",
            "-e",
            "udp.srcport",
            "-e",
            "frame.protocols",
        ],
    );
    let mut by_proto: HashMap<&str, usize> = HashMap::new();
    for l in out.lines() {
        let protos = l.rsplit('\t').next().unwrap();
        let last = if protos.contains("isakmp") {
            "isakmp"
        } else if protos.ends_with("udpencap") {
            "udpencap"
        } else if protos.contains("esp") {
            "esp"
        } else if protos.contains(":ah") {
            "ah"
        } else {
            protos
        };
        *by_proto.entry(last).or_default() += 1;
    }
    // 4 IKE on 500, 2 IKE on 4500 and 1 on the second NAT-T flow.
    assert_eq!(by_proto.get("isakmp"), Some(&7), "{by_proto:?}");
    // 600 ESP in UDP, 800 ESP.
    assert_eq!(by_proto.get("esp"), Some(&1400), "{by_proto:?}");
    // Two keepalives.
    assert_eq!(by_proto.get("udpencap"), Some(&2), "{by_proto:?}");
    assert_eq!(by_proto.get("ah"), Some(&1), "{by_proto:?}");
}
