//! Issue 17, right on traffic nobody tuned for: each case on a generated
//! capture through the real binary (XMPP mid-stream, RTCP on any port pair,
//! MS-TURN data frames over TCP 443, PPP link types against tshark, RTP
//! payload-type changes against tshark, every RTP packet of an ICE flow),
//! the label stress capture scored by `pathlens score`, and, on the corpus,
//! every RTP stream against an RFC 7983 first-byte count of its flow.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "support/issue17_gen.rs"]
mod gen;
mod support;

use pathlens_benches::frame::{udp_frame, Eth};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use support::*;

/// Reads `pcap` and returns (flows, streams) batches.
fn run(
    dir: &Path,
    pcap: &Path,
) -> (
    Vec<arrow::array::RecordBatch>,
    Vec<arrow::array::RecordBatch>,
) {
    let out = dir.join(format!(
        "{}.parquet",
        pcap.file_stem().unwrap().to_string_lossy()
    ));
    read_ok(&[pcap.to_str().unwrap()], &out);
    (
        read_batches(&out),
        read_batches(&pathlens_export::streams_path(&out)),
    )
}

#[test]
fn issue17_xmpp_mid_stream_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("xmpp.pcap");
    gen::xmpp_mid_stream(&pcap);
    let (flows, _) = run(dir.path(), &pcap);
    let got = rows_of(
        &flows,
        &["src_port", "dst_port", "app_protocol", "traffic_type"],
        " ",
    );
    assert_eq!(
        got,
        [
            "51000 5222 xmpp signaling",
            "51001 5222 xmpp signaling",
            "51002 5222 other other",
        ],
        "stanzas, keep-alives alone on 5222, and SOAP that is not XMPP"
    );
}

#[test]
fn issue17_rtcp_only_flow_on_any_port_pair() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("rtcp.pcap");
    let (sa, sb) = gen::rtcp_only(&pcap);
    let (flows, streams) = run(dir.path(), &pcap);
    assert_eq!(
        rows_of(&flows, &["dst_port", "app_protocol", "traffic_type"], " "),
        ["40010 rtcp media"]
    );
    // Each side's RRs describe the other's stream (the caller's flows
    // src2dst): 4 reports each, the BYEs add none.
    let mut want = vec![format!("{sa} src2dst 4 0"), format!("{sb} dst2src 4 0")];
    want.sort();
    assert_eq!(
        rows_of(
            &streams,
            &["ssrc", "direction", "rtcp_reports", "packets"],
            " "
        ),
        want
    );
}

#[test]
fn issue17_ms_turn_data_frames_over_tcp_443_reach_the_streams() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("msturn.pcap");
    let (client, server) = gen::ms_turn_tcp(&pcap);
    let (flows, streams) = run(dir.path(), &pcap);
    assert_eq!(
        rows_of(
            &flows,
            &[
                "dst_port",
                "app_protocol",
                "traffic_type",
                "stun_seen",
                "media_over_tcp"
            ],
            " "
        ),
        ["443 stun_turn media true true"]
    );
    // Every RTP packet a segment carries whole, two to a segment included;
    // a frame cut across segments is not reassembled.
    assert_eq!(
        rows_of(&streams, &["direction", "ssrc", "packets", "codec"], " "),
        [
            format!("dst2src 94 {server} PCMU"),
            format!("src2dst 193 {client} PCMU"),
        ]
    );
}

/// The IPv4 packet of a UDP datagram (the frame builder's, without its
/// Ethernet header).
fn ip_packet(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let f = udp_frame(
        Eth::new([2; 6], [4; 6]),
        gen::ep(src),
        gen::ep(dst),
        payload,
    );
    f[14..].to_vec()
}

/// tshark's flows of a capture: (src, sport, dst, dport) -> packets.
fn tshark_udp(pcap: &Path) -> BTreeMap<String, usize> {
    let out = tool(
        "tshark",
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "udp",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "udp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
        ],
    );
    let mut m = BTreeMap::new();
    for l in out.lines().filter(|l| !l.is_empty()) {
        *m.entry(l.replace('\t', " ")).or_insert(0) += 1;
    }
    m
}

/// Serial link types as routers write them, each frame built byte by byte:
/// DLT 9 (PPP) carrying Cisco HDLC framing and PPP with and without
/// RFC 1662's address and control bytes, DLT 50 (PPP in HDLC-like framing)
/// with PPP and Cisco HDLC, and DLT 104 (Cisco HDLC). tshark decodes the
/// same UDP packets pathlens counts, and an LCP frame is not IP for either.
#[test]
fn issue17_ppp_and_cisco_hdlc_link_types_agree_with_tshark() {
    let dir = tempfile::tempdir().unwrap();
    let pkt = |i: u16| ip_packet("10.1.1.1:5004", "10.2.2.2:5006", &gen::pcmu(i, 0, 1));
    let back = |i: u16| ip_packet("10.2.2.2:5006", "10.1.1.1:5004", &gen::pcmu(i, 0, 2));
    let cases: [(u32, &str, Vec<Vec<u8>>); 3] = [
        (
            9,
            "ppp",
            vec![
                [&[0x0f, 0x00, 0x08, 0x00][..], &pkt(1)].concat(),
                [&[0x8f, 0x00, 0x08, 0x00][..], &back(1)].concat(),
                [&[0xff, 0x03, 0x00, 0x21][..], &pkt(2)].concat(),
                [&[0x00, 0x21][..], &back(2)].concat(),
                vec![0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 1],
            ],
        ),
        (
            50,
            "ppp_hdlc",
            vec![
                [&[0xff, 0x03, 0x00, 0x21][..], &pkt(1)].concat(),
                [&[0xff, 0x03, 0x21][..], &back(1)].concat(),
                [&[0x0f, 0x00, 0x08, 0x00][..], &pkt(2)].concat(),
                vec![0xff, 0x03, 0xc0, 0x21, 0x09, 0x01, 0x00, 0x08, 0, 0, 0, 1],
            ],
        ),
        (
            104,
            "c_hdlc",
            vec![
                [&[0x0f, 0x00, 0x08, 0x00][..], &pkt(1)].concat(),
                [&[0x8f, 0x00, 0x08, 0x00][..], &back(1)].concat(),
                vec![0x8f, 0x00, 0x80, 0x35, 0, 0, 0, 1],
            ],
        ),
    ];
    for (dlt, name, frames) in cases {
        let pcap = dir.path().join(format!("{name}.pcap"));
        let mut w = PcapWriter::create(&pcap, dlt, 65_535);
        for (i, f) in frames.iter().enumerate() {
            w.frame(gen::T0 + i as i64 * 20_000, f);
        }
        w.finish();
        let theirs = tshark_udp(&pcap);
        let want = frames.len() - 1;
        assert_eq!(theirs.values().sum::<usize>(), want, "{name}: {theirs:?}");
        let out = dir.path().join(format!("{name}.parquet"));
        read_ok(&[pcap.to_str().unwrap()], &out);
        let flows = read_batches(&out);
        let mut ours = BTreeMap::new();
        let cols = ["src_ip", "src_port", "dst_ip", "dst_port"];
        let (s2d, d2s) = (
            column_text(&flows, "src2dst_packets"),
            column_text(&flows, "dst2src_packets"),
        );
        let c: Vec<Vec<String>> = cols.iter().map(|n| column_text(&flows, n)).collect();
        for r in 0..rows(&flows) {
            let fwd = format!("{} {} {} {}", c[0][r], c[1][r], c[2][r], c[3][r]);
            let rev = format!("{} {} {} {}", c[2][r], c[3][r], c[0][r], c[1][r]);
            ours.insert(fwd, s2d[r].parse::<usize>().unwrap());
            ours.insert(rev, d2s[r].parse::<usize>().unwrap());
        }
        ours.retain(|_, n| *n > 0);
        assert_eq!(ours, theirs, "{name}");
        let o = pathlens(&["read", pcap.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("1 not IP"), "{name}: {text}");
    }
}

/// One line of `tshark -z rtp,streams` for `ssrc`: (packets, lost, mean
/// jitter, max jitter).
fn tshark_rtp(pcap: &Path, ssrc: u32) -> (i64, i64, f64, f64) {
    let out = tool(
        "tshark",
        &[
            "-q",
            "-o",
            "rtp.heuristic_rtp:TRUE",
            "-z",
            "rtp,streams",
            "-r",
            pcap.to_str().unwrap(),
        ],
    );
    let want = format!("0x{ssrc:08X}");
    let line = out
        .lines()
        .find(|l| l.to_ascii_uppercase().contains(&want[2..]) && l.contains("0x"))
        .unwrap_or_else(|| panic!("no stream {want} in {out}"));
    let mut p: Vec<&str> = line.split_whitespace().collect();
    if p.last() == Some(&"X") {
        p.pop();
    }
    let n = p.len();
    (
        p[n - 9].parse().unwrap(),
        p[n - 8].parse().unwrap(),
        p[n - 2].parse().unwrap(),
        p[n - 1].parse().unwrap(),
    )
}

/// A clean G.711 call with comfort noise and an RFC 4733 digit on its one
/// SSRC: one stream, nothing lost (as tshark counts), the main payload type
/// PCMU, and jitter 0: every packet left exactly on time.
///
/// tshark disagrees on the jitter, and the bytes say why: it binds 101 to
/// telephone-event from the same SDP and gives event packets no clock, but
/// still takes each one's timestamp as the reference for the next packet.
/// An event packet carries the timestamp of the event's start, repeated on
/// every packet of the event (RFC 4733), not the instant it was sent, so the
/// first PCMU packet after the digit looks 160 ms late to tshark (nine
/// packet times of timestamp, one of arrival): |D| = 160 ms, J = 160/16 =
/// 10 ms, and its max shows it. RFC 3550's transit is arrival minus
/// sampling instant, which the event's timestamp is not: pathlens leaves
/// event packets out of the transit and reports 0.
#[test]
fn issue17_payload_type_changes_do_not_corrupt_jitter() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("g711.pcap");
    let sent = gen::g711_with_events(&pcap);
    let (flows, streams) = run(dir.path(), &pcap);
    assert!(rows_of(&flows, &["app_protocol"], "").contains(&"rtp".to_string()));
    let got = rows_of(
        &streams,
        &[
            "packets",
            "lost",
            "restarts",
            "payload_type",
            "codec",
            "jitter_mean_ms",
            "jitter_max_ms",
            "quality",
        ],
        " ",
    );
    assert_eq!(got, [format!("{sent} 0 0 0 PCMU 0.0 0.0 good")]);
    let (pk, lost, _mean, max) = tshark_rtp(&pcap, 0xFA);
    assert_eq!((pk, lost), (sent as i64, 0));
    assert!(
        max >= 10.0,
        "tshark's event-end spike is gone ({max} ms): recheck the reason above"
    );
}

/// STUN, DTLS, then one-way SRTP on one 5-tuple: the flow has its streams
/// row, with every RTP packet that RFC 7983's first-byte rule finds.
#[test]
fn issue17_every_rtp_packet_of_an_ice_flow_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("ice.pcap");
    let sent = gen::ice_one_way(&pcap);
    let (flows, streams) = run(dir.path(), &pcap);
    assert_eq!(rows(&flows), 1);
    let counted = rfc7983_rtp_counts(&pcap);
    assert_eq!(counted.values().sum::<u64>(), sent);
    assert_eq!(
        rows_of(&streams, &["ssrc", "packets", "lost"], " "),
        [format!("{} {sent} 0", 0xABCD)]
    );
}

/// Labels of the stress capture in the corpus's `labels.tsv` format.
fn labels_tsv(file: &str, labels: &[gen::Labelled]) -> String {
    let mut s =
        String::from("file\ttransport\taddr_a\tport_a\taddr_b\tport_b\tapp\tndpi_label\tnote\n");
    for l in labels {
        writeln!(
            s,
            "{file}\t{}\t{}\t{}\t{}\t{}\t{}\t\t{}",
            l.transport,
            l.client.ip(),
            l.client.port(),
            l.server.ip(),
            l.server.port(),
            l.app,
            l.note
        )
        .unwrap();
    }
    s
}

#[test]
fn issue17_label_stress_scores_100_percent() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("label_stress.pcap");
    let labels = gen::label_stress(&pcap);
    let tsv = dir.path().join("labels.tsv");
    std::fs::write(&tsv, labels_tsv("label_stress.pcap", &labels)).unwrap();
    let out = dir.path().join("stress.parquet");
    read_ok(&[pcap.to_str().unwrap()], &out);
    let o = pathlens(&[
        "score",
        "--labels",
        tsv.to_str().unwrap(),
        out.to_str().unwrap(),
        "--min-accuracy",
        "1.0",
    ]);
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{report}");
    assert!(
        report.contains(&format!(
            "accuracy 1.0000 ({n} of {n} labelled flows",
            n = labels.len()
        )),
        "{report}"
    );
}

/// RTP packets per (sender, sport, receiver, dport, ssrc) of a capture's
/// UDP datagrams, by RFC 7983's first byte (128-191, and a second byte
/// outside RTCP's 192-223, RFC 5761), read here from the pcap bytes with
/// etherparse, independently of pathlens.
fn rfc7983_rtp_counts(pcap: &Path) -> BTreeMap<(String, u16, String, u16, u32), u64> {
    let frames = read_pcap_frames(pcap);
    let mut m = BTreeMap::new();
    for (link, f) in frames {
        let sliced = match link {
            1 => etherparse::SlicedPacket::from_ethernet(&f),
            113 => etherparse::SlicedPacket::from_linux_sll(&f),
            _ => etherparse::SlicedPacket::from_ip(&f),
        };
        let Ok(p) = sliced else { continue };
        let (Some(net), Some(etherparse::TransportSlice::Udp(u))) = (p.net, p.transport) else {
            continue;
        };
        let (src, dst) = match net {
            etherparse::NetSlice::Ipv4(v4) => (
                v4.header().source_addr().to_string(),
                v4.header().destination_addr().to_string(),
            ),
            etherparse::NetSlice::Ipv6(v6) => (
                v6.header().source_addr().to_string(),
                v6.header().destination_addr().to_string(),
            ),
            _ => continue,
        };
        let b = u.payload();
        if b.len() >= 12 && (128..=191).contains(&b[0]) && !(192..=223).contains(&b[1]) {
            let ssrc = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            *m.entry((src, u.source_port(), dst, u.destination_port(), ssrc))
                .or_insert(0) += 1;
        }
    }
    m
}

/// Every frame of a pcap or pcapng file with its link type (pcapng through
/// tcpdump, which rewrites it as pcap).
fn read_pcap_frames(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let mut bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let o = std::process::Command::new("tcpdump")
            .args([
                "-r",
                path.to_str().unwrap(),
                "-w",
                tmp.path().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        bytes = std::fs::read(tmp.path()).unwrap();
    }
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let le = matches!(magic, 0xa1b2c3d4 | 0xa1b23c4d);
    let rd = |b: &[u8]| {
        let a: [u8; 4] = b.try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = rd(&bytes[20..24]);
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let incl = rd(&bytes[at + 8..at + 12]) as usize;
        at += 16;
        let Some(f) = bytes.get(at..at + incl) else {
            break;
        };
        out.push((link, f.to_vec()));
        at += incl;
    }
    out
}

/// For every RTP stream of the corpus (and of the ICE capture), the packets
/// pathlens counts equal an RFC 7983 first-byte count of the same flow, and
/// its loss is what that count's sequence numbers imply. (The jitter
/// against tshark, where tshark knows the clock, is
/// `media.rs::streams_agree_with_tshark_on_the_corpus`.) Over TCP the count
/// is not by first byte (the framing hides it), so only UDP streams are
/// compared; every UDP flow whose datagrams carry RTP by that rule and that
/// pathlens calls media has its streams.
#[test]
fn issue17_corpus_rtp_streams_equal_an_rfc7983_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for file in corpus_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let out = dir.path().join(format!("{name}.parquet"));
        read_ok(&[file.to_str().unwrap()], &out);
        let flows = read_batches(&out);
        let streams = read_batches(&pathlens_export::streams_path(&out));
        let fcol = |n: &str| column_text(&flows, n);
        let (fid, tr, app) = (fcol("flow_id"), fcol("transport"), fcol("app_protocol"));
        let (sip, sp, dip, dp) = (
            fcol("src_ip"),
            fcol("src_port"),
            fcol("dst_ip"),
            fcol("dst_port"),
        );
        let scol = |n: &str| column_text(&streams, n);
        let (sfid, dir_, ssrc, pk) = (
            scol("flow_id"),
            scol("direction"),
            scol("ssrc"),
            scol("packets"),
        );
        let mut ours: BTreeMap<(String, u16, String, u16, u32), u64> = BTreeMap::new();
        for i in 0..sfid.len() {
            let j = fid.iter().position(|f| *f == sfid[i]).unwrap();
            if tr[j] != "udp" || pk[i] == "0" {
                continue;
            }
            let (a, pa, b, pb) = if dir_[i] == "src2dst" {
                (&sip[j], &sp[j], &dip[j], &dp[j])
            } else {
                (&dip[j], &dp[j], &sip[j], &sp[j])
            };
            ours.insert(
                (
                    a.clone(),
                    pa.parse().unwrap(),
                    b.clone(),
                    pb.parse().unwrap(),
                    ssrc[i].parse().unwrap(),
                ),
                pk[i].parse().unwrap(),
            );
        }
        let media_flows: Vec<(String, u16, String, u16)> = (0..fid.len())
            .filter(|&j| {
                tr[j] == "udp"
                    && matches!(
                        app[j].as_str(),
                        "rtp" | "srtp" | "rtcp" | "dtls" | "stun_turn"
                    )
            })
            .map(|j| {
                (
                    sip[j].clone(),
                    sp[j].parse().unwrap(),
                    dip[j].clone(),
                    dp[j].parse().unwrap(),
                )
            })
            .collect();
        let on_media = |k: &(String, u16, String, u16, u32)| {
            media_flows.iter().any(|f| {
                (f.0 == k.0 && f.1 == k.1 && f.2 == k.2 && f.3 == k.3)
                    || (f.0 == k.2 && f.1 == k.3 && f.2 == k.0 && f.3 == k.1)
            })
        };
        let counted: BTreeMap<_, _> = rfc7983_rtp_counts(&file)
            .into_iter()
            .filter(|(k, _)| on_media(k))
            .collect();
        assert_eq!(ours, counted, "{name}");
        compared += ours.len();
    }
    assert!(compared >= 30, "only {compared} streams compared");
}

/// RTP relayed by TURN in Send and Data indications (RFC 8656 §11), over
/// UDP and over TCP (RFC 8656 §12.5: messages back to back, each by its own
/// length), reaches the streams like ChannelData and MS-TURN frames do:
/// both flows are media with a row per direction, every packet counted,
/// ChannelData and indications mixed on one stream. The UDP flow is `srtp`
/// by the README's rule for relayed RTP (its ChannelData demultiplexes as
/// RTP on a flow with RFC 5389 STUN); indications are classified as the
/// STUN messages they are, so the TCP flow, and a UDP one with indications
/// only, stays `stun_turn`.
///
/// tshark (heuristic RTP, which finds RTP inside the DATA attribute and
/// ChannelData) agrees on every UDP stream. Over TCP it reassembles the
/// stream, so it also reads the client's messages that two segments carry;
/// pathlens reads segments as they come (no TCP reassembly, as for RFC 4571
/// and MS-TURN framing, documented in the README) and counts those packets
/// as lost, so there tshark has `packets + cut` where pathlens has
/// `packets` and `lost = cut`.
#[test]
fn issue17_turn_send_and_data_indications_reach_the_streams() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("turn.pcap");
    let sent = gen::turn_relays(&pcap);
    let (flows, streams) = run(dir.path(), &pcap);
    assert_eq!(
        rows_of(
            &flows,
            &[
                "transport",
                "dst_port",
                "app_protocol",
                "traffic_type",
                "rtp_ssrc_count"
            ],
            " "
        ),
        ["tcp 3478 stun_turn media 2", "udp 3478 srtp media 2"]
    );
    let [uc, us, tc, ts] = gen::TURN_SSRCS;
    let mut want = vec![
        format!("src2dst {uc} {} 0 PCMU", sent.udp.0),
        format!("dst2src {us} {} 0 PCMU", sent.udp.1),
        format!("src2dst {tc} {} {} PCMU", sent.tcp.0, sent.tcp_cut),
        format!("dst2src {ts} {} 0 PCMU", sent.tcp.1),
    ];
    want.sort();
    assert_eq!(
        rows_of(
            &streams,
            &["direction", "ssrc", "packets", "lost", "codec"],
            " "
        ),
        want
    );
    assert_eq!(
        (sent.udp, sent.tcp, sent.tcp_cut),
        ((250, 250), (225, 250), 25)
    );
    for (ssrc, pk) in [(uc, sent.udp.0), (us, sent.udp.1), (ts, sent.tcp.1)] {
        assert_eq!(tshark_rtp(&pcap, ssrc).0, pk as i64, "tshark on {ssrc:#x}");
    }
    assert_eq!(
        tshark_rtp(&pcap, tc).0,
        (sent.tcp.0 + sent.tcp_cut) as i64,
        "tshark reassembles TCP"
    );
}
