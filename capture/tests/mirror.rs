//! Mirror feeds and tunnels end to end: one generated capture of plain
//! conversations (IPv4 and IPv6, UDP and TCP, one of them VLAN-tagged), and
//! the same frames wrapped in every encapsulation pathlens opens. Each
//! wrapped capture must give the rows of the plain one (the inner flows,
//! packets and bytes), with `encapsulation` and `tunnel_id` filled, and
//! tshark's decoding of the wrapped frames must find the same inner flows,
//! packets and bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::frame::{tcp_frame, udp_frame, Eth, Tcp, ACK, PSH, SYN};
use pathlens_benches::tunnel::{wrap, Wrap, OUTER_DST, OUTER_SRC};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use support::*;

const MAC_C: [u8; 6] = [2, 0, 0, 0, 0, 0x0c];
const MAC_R: [u8; 6] = [2, 0, 0, 0, 0, 0x0e];
const T0: i64 = 1_793_900_000_000_000;

fn ep(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The plain conversations: a DNS exchange, a TCP connection to 443 with a
/// request and a response, a UDP media-like flow on VLAN 100, and an IPv6
/// UDP flow (Teredo carries IPv6 only, so its capture keeps only that one).
fn inner_frames(v6_only: bool) -> Vec<Vec<u8>> {
    let (c, r) = (Eth::new(MAC_C, MAC_R), Eth::new(MAC_R, MAC_C));
    let mut v = Vec::new();
    let six = (ep("[2001:db8::5]:51000"), ep("[2001:db8:1::9]:3478"));
    for i in 0..6u8 {
        v.push(udp_frame(c, six.0, six.1, &[i; 120]));
        v.push(udp_frame(r, six.1, six.0, &[i; 90]));
    }
    if v6_only {
        return v;
    }
    let (cl, dns) = (ep("10.1.0.5:53000"), ep("10.9.0.53:53"));
    v.push(udp_frame(
        c,
        cl,
        dns,
        &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0],
    ));
    v.push(udp_frame(
        r,
        dns,
        cl,
        &[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0],
    ));
    let (cl, web) = (ep("10.1.0.5:50100"), ep("52.112.4.4:443"));
    let seg = |flags, seq, ack| Tcp {
        seq,
        ack,
        flags,
        window: 64_000,
    };
    v.push(tcp_frame(c, cl, web, seg(SYN, 1, 0), &[]));
    v.push(tcp_frame(r, web, cl, seg(SYN | ACK, 9, 2), &[]));
    v.push(tcp_frame(c, cl, web, seg(ACK, 2, 10), &[]));
    v.push(tcp_frame(c, cl, web, seg(ACK | PSH, 2, 10), &[0x16; 300]));
    v.push(tcp_frame(
        r,
        web,
        cl,
        seg(ACK | PSH, 10, 302),
        &[0x17; 1200],
    ));
    let (vc, vr) = (c.vlan(Some(100)), r.vlan(Some(100)));
    let (a, b) = (ep("10.1.0.7:50020"), ep("52.113.9.9:3479"));
    for i in 0..10u8 {
        v.push(udp_frame(vc, a, b, &[0x80 | (i & 1); 200]));
        v.push(udp_frame(vr, b, a, &[0x80; 180]));
    }
    v
}

fn write_pcap(path: &Path, frames: &[Vec<u8>], how: Option<Wrap>) {
    let mut w = PcapWriter::create(path, 1, 65_535);
    for (i, f) in frames.iter().enumerate() {
        let t = T0 + i as i64 * 20_000;
        match how {
            Some(h) => w.frame(t, &wrap(h, f, i as u32)),
            None => w.frame(t, f),
        }
    }
    w.finish();
}

const KEY: &[&str] = &[
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "ip_proto",
    "src2dst_packets",
    "dst2src_packets",
    "src2dst_bytes",
    "dst2src_bytes",
    "app_protocol",
    "vlan_id",
    "src2dst_next_hop",
];

fn read_rows(dir: &Path, name: &str, extra: &[&str]) -> (Vec<String>, Vec<String>) {
    let pcap = dir.join(format!("{name}.pcap"));
    let out = dir.join(format!("{name}.parquet"));
    let mut args = vec![pcap.to_str().unwrap(), "--force"];
    args.extend_from_slice(extra);
    read_ok(&args, &out);
    let b = read_batches(&out);
    (
        rows_of(&b, KEY, "|"),
        rows_of(&b, &["encapsulation", "tunnel_id"], "|"),
    )
}

/// Each encapsulation and what its rows say of it.
fn cases() -> Vec<(&'static str, Wrap, &'static str, &'static str)> {
    vec![
        (
            "gre",
            Wrap::Gre {
                key: None,
                full: false,
            },
            "gre",
            "",
        ),
        (
            "gre_key",
            Wrap::Gre {
                key: Some(77),
                full: true,
            },
            "gre",
            "77",
        ),
        ("gre_eth", Wrap::GreEth, "gre", ""),
        ("erspan1", Wrap::Erspan1, "erspan1", ""),
        ("erspan2", Wrap::Erspan2(301, 0), "erspan2", "301"),
        (
            "erspan3",
            Wrap::Erspan3 {
                session: 12,
                ip: false,
                sub: true,
            },
            "erspan3",
            "12",
        ),
        (
            "erspan3_ip",
            Wrap::Erspan3 {
                session: 13,
                ip: true,
                sub: false,
            },
            "erspan3",
            "13",
        ),
        ("vxlan", Wrap::Vxlan(5001, 4789), "vxlan", "5001"),
        ("geneve", Wrap::Geneve(9), "geneve", "9"),
        ("gre_udp", Wrap::GreUdp, "gre_udp", ""),
        ("gtpu", Wrap::Gtpu(0x1234, false), "gtpu", "4660"),
        ("gtpu_ext", Wrap::Gtpu(0x99, true), "gtpu", "153"),
        ("ayiya", Wrap::Ayiya, "ayiya", ""),
    ]
}

/// Whether a wrapped frame still carries the inner frame's MACs and VLAN
/// (the next hop column follows them) or only its IP packet.
fn keeps_ethernet(w: Wrap) -> bool {
    matches!(
        w,
        Wrap::GreEth
            | Wrap::Erspan1
            | Wrap::Erspan2(..)
            | Wrap::Vxlan(..)
            | Wrap::Geneve(_)
            | Wrap::Erspan3 { ip: false, .. }
    )
}

#[test]
fn every_encapsulation_gives_the_plain_rows() {
    let dir = tempfile::tempdir().unwrap();
    let frames = inner_frames(false);
    write_pcap(&dir.path().join("plain.pcap"), &frames, None);
    let (plain, plain_tun) = read_rows(dir.path(), "plain", &[]);
    assert_eq!(plain.len(), 4, "{plain:#?}");
    assert!(plain_tun.iter().all(|r| r == "|"), "{plain_tun:?}");
    // Rows without the path columns, for tunnels that carry bare IP.
    let strip = |rows: &[String]| -> Vec<String> {
        rows.iter()
            .map(|r| r.rsplitn(3, '|').nth(2).unwrap().to_string())
            .collect()
    };
    for (name, how, encap, id) in cases() {
        write_pcap(&dir.path().join(format!("{name}.pcap")), &frames, Some(how));
        let (rows, tun) = read_rows(dir.path(), name, &[]);
        if keeps_ethernet(how) {
            assert_eq!(rows, plain, "{name}");
        } else {
            assert_eq!(strip(&rows), strip(&plain), "{name}");
        }
        let want = format!("{encap}|{id}");
        assert!(tun.iter().all(|r| *r == want), "{name}: {tun:?}");
        // Switched off, the capture is the tunnel's own flow.
        let (off, off_tun) = read_rows(dir.path(), name, &["--no-decap"]);
        assert_eq!(off.len(), 1, "{name} --no-decap: {off:?}");
        assert_eq!(off_tun, vec!["|"]);
        let outer = OUTER_SRC.to_string();
        assert!(
            off[0].starts_with(&outer) || off[0].contains(&outer),
            "{off:?}"
        );
    }
    // Teredo: the IPv6 flow alone.
    let six = inner_frames(true);
    write_pcap(&dir.path().join("plain6.pcap"), &six, None);
    write_pcap(&dir.path().join("teredo.pcap"), &six, Some(Wrap::Teredo));
    let (p6, _) = read_rows(dir.path(), "plain6", &[]);
    let (t6, tun) = read_rows(dir.path(), "teredo", &[]);
    assert_eq!(strip(&t6), strip(&p6));
    assert_eq!(tun, vec!["teredo|"]);
}

/// VXLAN on a port given by flag (Linux's old 8472), a VLAN inside VXLAN
/// inside a VLAN, and VXLAN inside GRE inside ERSPAN: recursive.
#[test]
fn nested_and_flagged_ports() {
    let dir = tempfile::tempdir().unwrap();
    let frames = inner_frames(false);
    write_pcap(&dir.path().join("plain.pcap"), &frames, None);
    let (plain, _) = read_rows(dir.path(), "plain", &[]);
    write_pcap(
        &dir.path().join("v8472.pcap"),
        &frames,
        Some(Wrap::Vxlan(7, 8472)),
    );
    let (unopened, _) = read_rows(dir.path(), "v8472", &[]);
    assert_eq!(unopened.len(), 1, "8472 is no standard port");
    let (rows, tun) = read_rows(dir.path(), "v8472", &["--decap-ports", "vxlan=4789,8472"]);
    assert_eq!(rows, plain);
    assert!(tun.iter().all(|r| r == "vxlan|7"));

    // ERSPAN II around GRE-Ethernet around VXLAN around the frame.
    let mut w = PcapWriter::create(&dir.path().join("nested.pcap"), 1, 65_535);
    for (i, f) in frames.iter().enumerate() {
        let n = i as u32;
        let v = wrap(Wrap::Vxlan(42, 4789), f, n);
        let g = wrap(Wrap::GreEth, &v, n);
        w.frame(
            T0 + i64::from(n) * 20_000,
            &wrap(Wrap::Erspan2(5, 0), &g, n),
        );
    }
    w.finish();
    let (rows, tun) = read_rows(dir.path(), "nested", &[]);
    assert_eq!(rows, plain);
    assert!(tun.iter().all(|r| r == "erspan2+gre+vxlan|5"), "{tun:?}");
}

/// Two VNIs carrying the same inner conversation are two flows: overlapping
/// tenant address spaces are the normal case in a cloud.
#[test]
fn two_vnis_are_two_conversations() {
    let dir = tempfile::tempdir().unwrap();
    let frames = inner_frames(true);
    let mut w = PcapWriter::create(&dir.path().join("two.pcap"), 1, 65_535);
    for (i, f) in frames.iter().enumerate() {
        for vni in [100, 200] {
            w.frame(
                T0 + i as i64 * 20_000 + vni,
                &wrap(Wrap::Vxlan(vni as u32, 4789), f, 0),
            );
        }
    }
    w.finish();
    let (rows, tun) = read_rows(dir.path(), "two", &[]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0], rows[1], "the same inner flow twice");
    assert_eq!(tun, vec!["vxlan|100", "vxlan|200"]);
    // The summary lists each VNI with its flows and packets.
    let o = pathlens(&["summary", dir.path().join("two.parquet").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    for vni in ["vxlan 100", "vxlan 200"] {
        let line = text.lines().find(|l| l.trim_start().starts_with(vni));
        let line = line.unwrap_or_else(|| panic!("{vni} missing:\n{text}"));
        let nums: Vec<&str> = line[vni.len()..].split_whitespace().collect();
        assert_eq!(&nums[..2], ["1", "12"], "flows and packets: {line}");
    }
}

/// tshark decodes each wrapped capture to the same inner flows, packets and
/// IP bytes as pathlens (the last occurrence of each field is the
/// innermost header). One exception: tshark 4.0 reads the ERSPAN III header
/// of frame type 2 and shows the rest as data, where the ERSPAN draft
/// (draft-foschiano-erspan §4.3: "00010 IP (L3) frame") says an IP packet
/// follows; pathlens opens it, and the test above shows its rows equal the
/// unwrapped capture's.
#[test]
fn tshark_finds_the_same_inner_flows() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = cases();
    all.retain(|c| c.0 != "erspan3_ip");
    all.push(("teredo", Wrap::Teredo, "teredo", ""));
    for (name, how, _, _) in all {
        let frames = inner_frames(how == Wrap::Teredo);
        let pcap = dir.path().join(format!("{name}.pcap"));
        write_pcap(&pcap, &frames, Some(how));
        let (ours, _) = read_rows(dir.path(), name, &[]);
        let theirs = tshark_flows(&pcap);
        let mut mine = BTreeMap::new();
        for r in &ours {
            let f: Vec<&str> = r.split('|').collect();
            let (a, b) = (format!("{}:{}", f[0], f[2]), format!("{}:{}", f[1], f[3]));
            let key = if a <= b { (a, b) } else { (b, a) };
            let pk: u64 = f[5].parse::<u64>().unwrap() + f[6].parse::<u64>().unwrap();
            let by: u64 = f[7].parse::<u64>().unwrap() + f[8].parse::<u64>().unwrap();
            mine.insert(key, (pk, by));
        }
        assert_eq!(mine, theirs, "{name}");
        let outer = OUTER_DST.to_string();
        assert!(!theirs
            .keys()
            .any(|(a, b)| a.starts_with(&outer) || b.starts_with(&outer)));
    }
}

/// Per canonical endpoint pair (addr:port), packets and IP bytes of the
/// innermost IP header as tshark decodes it.
fn tshark_flows(pcap: &Path) -> BTreeMap<(String, String), (u64, u64)> {
    let fields = [
        "ip.src",
        "ip.dst",
        "ip.len",
        "ip.proto",
        "ipv6.src",
        "ipv6.dst",
        "ipv6.plen",
        "ipv6.nxt",
        "udp.srcport",
        "udp.dstport",
        "tcp.srcport",
        "tcp.dstport",
    ];
    let mut args = vec![
        "-r",
        pcap.to_str().unwrap(),
        "-d",
        "udp.port==4754,gre",
        "-T",
        "fields",
        "-E",
        "occurrence=l",
    ];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let out = tool("tshark", &args);
    let mut m: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for l in out.lines() {
        let c: Vec<&str> = l.split('\t').collect();
        let (src, dst, len, proto) = if c[4].is_empty() {
            (c[0], c[1], c[2].parse::<u64>().unwrap(), c[3])
        } else {
            (c[4], c[5], 40 + c[6].parse::<u64>().unwrap(), c[7])
        };
        let (sp, dp) = if proto == "6" {
            (c[10], c[11])
        } else {
            (c[8], c[9])
        };
        let src: IpAddr = src.parse().unwrap();
        let dst: IpAddr = dst.parse().unwrap();
        let (a, b) = (format!("{src}:{sp}"), format!("{dst}:{dp}"));
        let key = if a <= b { (a, b) } else { (b, a) };
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += len;
    }
    m
}

/// The frames of a classic little-endian microsecond pcap, with their times.
fn pcap_frames(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "a microsecond pcap");
    let le = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let ts = i64::from(le(at)) * 1_000_000 + i64::from(le(at + 4));
        let n = le(at + 8) as usize;
        out.push((ts, b[at + 16..at + 16 + n].to_vec()));
        at += 16 + n;
    }
    out
}

/// `testdata/mirror-vxlan.pcap` and `testdata/mirror-erspan.pcap` are the
/// quick start's sample wrapped as an Azure virtual network TAP sends it
/// (VXLAN, VNI 5001) and as a switch's ERSPAN II session 301 does; the
/// mirror-feeds page reads them. Regenerated with `PATHLENS_BLESS=1`; read,
/// each gives the sample's rows.
#[test]
fn testdata_mirror_captures_are_the_sample_wrapped() {
    let sample = repo().join("testdata/sample.pcap");
    let frames = pcap_frames(&sample);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.parquet");
    read_ok(&[sample.to_str().unwrap()], &plain);
    let except = ["run_id", "interface", "encapsulation", "tunnel_id"];
    let want = row_texts(&read_batches(&plain), &except);
    for (name, how) in [
        ("mirror-vxlan.pcap", Wrap::Vxlan(5001, 4789)),
        ("mirror-erspan.pcap", Wrap::Erspan2(301, 0)),
    ] {
        let made = dir.path().join(name);
        let mut w = PcapWriter::create(&made, 1, 65_535);
        for (i, (t, f)) in frames.iter().enumerate() {
            w.frame(*t, &wrap(how, f, i as u32));
        }
        w.finish();
        let shipped = repo().join("testdata").join(name);
        if std::env::var_os("PATHLENS_BLESS").is_some() {
            std::fs::copy(&made, &shipped).unwrap();
        }
        assert!(
            std::fs::read(&made).unwrap() == std::fs::read(&shipped).unwrap_or_default(),
            "{name} differs from its generator (PATHLENS_BLESS=1 to regenerate)"
        );
        let out = dir.path().join(format!("{name}.parquet"));
        read_ok(&[shipped.to_str().unwrap()], &out);
        assert_eq!(row_texts(&read_batches(&out), &except), want, "{name}");
    }
}

/// The VXLAN bench input's wrapper (`benches/make_vxlan_input.sh` runs it
/// over the real-traffic capture) keeps every flow: the quick start's sample
/// through it reads as the sample, row for row, every flow `vxlan` 5001.
#[test]
fn bench_vxlan_copy_reads_as_the_plain_capture() {
    let sample = repo().join("testdata/sample.pcap");
    let dir = tempfile::tempdir().unwrap();
    let wrapped = dir.path().join("sample-vxlan.pcap");
    let n = pathlens_benches::rewrap::vxlan_pcap(
        std::fs::File::open(&sample).unwrap(),
        std::fs::File::create(&wrapped).unwrap(),
        5001,
    )
    .unwrap();
    assert_eq!(n as usize, pcap_frames(&sample).len());
    let (plain, out) = (
        dir.path().join("plain.parquet"),
        dir.path().join("v.parquet"),
    );
    read_ok(&[sample.to_str().unwrap()], &plain);
    read_ok(&[wrapped.to_str().unwrap()], &out);
    let except = ["run_id", "interface", "encapsulation", "tunnel_id"];
    let want = row_texts(&read_batches(&plain), &except);
    assert!(want.len() > 5, "{want:?}");
    let b = read_batches(&out);
    assert_eq!(row_texts(&b, &except), want);
    let tun = rows_of(&b, &["encapsulation", "tunnel_id"], "|");
    assert!(tun.iter().all(|r| r == "vxlan|5001"), "{tun:?}");
}
