//! A whole classic pcap capture rewrapped, frame by frame, as a cloud mirror
//! delivers it: each Ethernet frame inside an outer Ethernet, IPv4, UDP 4789
//! and VXLAN header with one VNI, between the fixed tunnel endpoints of
//! [`crate::tunnel`] (the VXLAN-wrapped bench input,
//! `benches/make_vxlan_input.sh`).
//!
//! Streaming, one record at a time, with no per-packet allocation: the 50
//! outer bytes are a template whose lengths, IPv4 checksum and UDP source
//! port are patched per frame. The source port is a hash of the inner flow's
//! addresses and ports, as RFC 7348 §5 asks of a VTEP, so the outer packets
//! spread over ports the way a real feed's do. The timestamps, their
//! resolution and the byte order of the input are kept.

use crate::tunnel::{OUTER_DST, OUTER_ETH, OUTER_SRC};
use std::io::{self, Read, Write};

/// Bytes added in front of every frame: Ethernet 14, IPv4 20, UDP 8, VXLAN 8.
pub const VXLAN_OVERHEAD: usize = 50;

const ETHERNET: u32 = 1;

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The outer headers with the fields that do not change; lengths, checksum
/// and source port are zero.
fn template(vni: u32) -> [u8; VXLAN_OVERHEAD] {
    let mut t = [0u8; VXLAN_OVERHEAD];
    t[0..6].copy_from_slice(&OUTER_ETH.dst);
    t[6..12].copy_from_slice(&OUTER_ETH.src);
    t[12..14].copy_from_slice(&[0x08, 0x00]);
    // IPv4: version 4, IHL 5, don't fragment, TTL 64, UDP.
    t[14] = 0x45;
    t[20] = 0x40;
    t[22] = 64;
    t[23] = 17;
    t[26..30].copy_from_slice(&OUTER_SRC.octets());
    t[30..34].copy_from_slice(&OUTER_DST.octets());
    t[36..38].copy_from_slice(&4789u16.to_be_bytes());
    // UDP checksum 0, as RFC 7348 §5 recommends over IPv4. VXLAN: I flag.
    t[42] = 0x08;
    t[46..49].copy_from_slice(&vni.to_be_bytes()[1..]);
    t
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// FNV-1a over the inner frame's addresses and ports (or its MACs when it
/// is not IP), folded into the dynamic port range 49152-65535.
fn source_port(frame: &[u8]) -> u16 {
    let mut at = 12;
    let mut et = [0u8; 2];
    for _ in 0..3 {
        match frame.get(at..at + 2) {
            Some(&[0x81, 0x00] | &[0x88, 0xa8]) => at += 4,
            Some(&[a, b]) => {
                et = [a, b];
                break;
            }
            _ => break,
        }
    }
    let ip = at + 2;
    let key = match et {
        [0x08, 0x00] => {
            let ihl = frame.get(ip).map_or(20, |v| usize::from(v & 0x0f) * 4);
            let mut k = frame.get(ip + 9..ip + 10).unwrap_or(&[]).to_vec();
            k.extend_from_slice(frame.get(ip + 12..ip + 20).unwrap_or(&[]));
            k.extend_from_slice(frame.get(ip + ihl..ip + ihl + 4).unwrap_or(&[]));
            k
        }
        [0x86, 0xdd] => {
            let mut k = frame.get(ip + 6..ip + 7).unwrap_or(&[]).to_vec();
            k.extend_from_slice(frame.get(ip + 8..ip + 44).unwrap_or(&[]));
            k
        }
        _ => frame.get(..12).unwrap_or(frame).to_vec(),
    };
    let h = key.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    49_152 | (h as u16 & 0x3fff)
}

/// Copies the classic pcap `input` (Ethernet) to `output` with every frame
/// wrapped in VXLAN with `vni`; returns the number of frames.
///
/// # Errors
/// The input is not a classic Ethernet pcap, is cut inside a record, or
/// reading or writing failed.
pub fn vxlan_pcap(mut input: impl Read, mut output: impl Write, vni: u32) -> io::Result<u64> {
    let mut g = [0u8; 24];
    input.read_exact(&mut g)?;
    let big = match g[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => return Err(bad("not a classic pcap".into())),
    };
    let rd = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let wr = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    if rd(&g[20..24]) != ETHERNET {
        return Err(bad(format!("link type {}, not Ethernet", rd(&g[20..24]))));
    }
    let snap = rd(&g[16..20]).saturating_add(VXLAN_OVERHEAD as u32);
    g[16..20].copy_from_slice(&wr(snap));
    output.write_all(&g)?;

    let tpl = template(vni);
    let mut rec = [0u8; 16];
    let mut data = Vec::with_capacity(1 << 16);
    let mut n = 0u64;
    loop {
        match input.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        let caplen = rd(&rec[8..12]);
        let wire = rd(&rec[12..16]);
        data.resize(caplen as usize, 0);
        input
            .read_exact(&mut data)
            .map_err(|e| bad(format!("record {}: cut ({e})", n + 1)))?;
        let extra = VXLAN_OVERHEAD as u32;
        rec[8..12].copy_from_slice(&wr(caplen + extra));
        rec[12..16].copy_from_slice(&wr(wire.saturating_add(extra)));
        // Lengths from the wire length, as the outer packet was sent.
        let ip_len = u16::try_from(wire.saturating_add(36)).unwrap_or(u16::MAX);
        let mut outer = tpl;
        outer[16..18].copy_from_slice(&ip_len.to_be_bytes());
        let c = ipv4_checksum(&outer[14..34]);
        outer[24..26].copy_from_slice(&c.to_be_bytes());
        outer[34..36].copy_from_slice(&source_port(&data).to_be_bytes());
        outer[38..40].copy_from_slice(&ip_len.saturating_sub(20).to_be_bytes());
        output.write_all(&rec)?;
        output.write_all(&outer)?;
        output.write_all(&data)?;
        n += 1;
    }
    output.flush()?;
    Ok(n)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::frame::{udp_frame, Eth};
    use crate::pcap::PcapWriter;
    use crate::tunnel::{wrap, Wrap};

    #[test]
    fn frames_match_the_tunnel_builder_but_for_the_source_port() {
        let eth = Eth::new([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let f = udp_frame(
            eth,
            "10.0.0.1:5000".parse::<std::net::SocketAddr>().unwrap(),
            "10.0.0.2:6000".parse::<std::net::SocketAddr>().unwrap(),
            &[7; 33],
        );
        let mut w = PcapWriter::new(Vec::new(), 1, 65_535).unwrap();
        w.write_frame(1_000_000, &f).unwrap();
        w.write_frame(2_000_000, &f).unwrap();
        let plain = w.finish().unwrap();
        let mut out = Vec::new();
        assert_eq!(vxlan_pcap(&plain[..], &mut out, 5001).unwrap(), 2);
        let rec = &out[24..];
        let len = u32::from_le_bytes(rec[8..12].try_into().unwrap()) as usize;
        let got = &rec[16..16 + len];
        let mut want = wrap(Wrap::Vxlan(5001, 4789), &f, 0);
        // The builder's fixed port and its UDP checksum aside, byte for byte.
        want[34..36].copy_from_slice(&got[34..36]);
        want[40..42].copy_from_slice(&[0, 0]);
        assert_eq!(
            got[..34],
            want[..34],
            "Ethernet and IPv4, checksum included"
        );
        assert_eq!(got[36..40], want[36..40]);
        assert_eq!(got[42..], want[42..]);
        let sport = u16::from_be_bytes([got[34], got[35]]);
        assert!(sport >= 49_152);
        // The same flow, the same port; the snap length grew by 50.
        let rec2 = &rec[16 + len..];
        assert_eq!(rec2[16 + 34..16 + 36], got[34..36]);
        assert_eq!(u32::from_le_bytes(out[16..20].try_into().unwrap()), 65_585);
        // Cut inside a record: an error, not a short file.
        assert!(vxlan_pcap(&plain[..plain.len() - 1], Vec::new(), 1).is_err());
    }
}
