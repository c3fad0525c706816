//! Community ID v1 flow hashing (corelight community-id-spec), so pathlens rows
//! join with Zeek, Suricata and nDPI output on one string.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// The ICMP "port" pair the spec uses: (type, counterpart type) for
/// request/response pairs, else (type, code) and a one-way flag.
pub fn icmp_ports(icmp_type: u8, code: u8, v6: bool) -> (u16, u16, bool) {
    let counterpart = if v6 {
        match icmp_type {
            128 => Some(129),
            129 => Some(128),
            130 => Some(131),
            131 => Some(130),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match icmp_type {
            0 => Some(8),
            8 => Some(0),
            9 => Some(10),
            10 => Some(9),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    };
    match counterpart {
        Some(c) => (u16::from(icmp_type), c, false),
        None => (u16::from(icmp_type), u16::from(code), true),
    }
}

/// Computes the Community ID v1 string (`1:` + base64 SHA-1) of an oriented
/// tuple. For ICMP pass the ports from [`icmp_ports`]; for port-less
/// protocols pass zeros.
pub fn community_id_v1(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    one_way: bool,
    seed: u16,
) -> String {
    let ordered = one_way || (src, sport) < (dst, dport) || (src == dst && sport == dport);
    let (a, b, pa, pb) = if ordered {
        (src, dst, sport, dport)
    } else {
        (dst, src, dport, sport)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    put_addr(&mut h, a);
    put_addr(&mut h, b);
    h.update([proto, 0]);
    if matches!(proto, 1 | 6 | 17 | 58 | 132) {
        h.update(pa.to_be_bytes());
        h.update(pb.to_be_bytes());
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(digest, &mut out);
    out
}

fn put_addr(h: &mut Sha1, a: IpAddr) {
    match a {
        IpAddr::V4(v4) => h.update(v4.octets()),
        IpAddr::V6(v6) => h.update(v6.octets()),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    // Vectors from the spec's published baseline (tcp/udp/icmp, seed 0).
    #[test]
    fn spec_baseline_vectors() {
        assert_eq!(
            community_id_v1(
                ip("128.232.110.120"),
                ip("66.35.250.204"),
                34855,
                80,
                6,
                false,
                0
            ),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        // Direction does not matter.
        assert_eq!(
            community_id_v1(
                ip("66.35.250.204"),
                ip("128.232.110.120"),
                80,
                34855,
                6,
                false,
                0
            ),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }

    #[test]
    fn icmp_pairs_hash_alike() {
        let (s, d, ow) = icmp_ports(8, 0, false);
        let req = community_id_v1(ip("10.0.0.1"), ip("10.0.0.2"), s, d, 1, ow, 0);
        let (s, d, ow) = icmp_ports(0, 0, false);
        let rep = community_id_v1(ip("10.0.0.2"), ip("10.0.0.1"), s, d, 1, ow, 0);
        assert_eq!(req, rep);
        assert!(icmp_ports(3, 1, false).2, "unreachable is one-way");
    }
}
