//! Clear-text SIP calls (UDP 5060) whose RTP ports come from their SDP,
//! each written with the calls the calls table should make of them.
//!
//! Client 10.1.0.5 registers, then calls twice a minute apart on the same
//! signaling flow: the second call's media starts 20 s after the first's
//! ended, close enough for the time rule alone to make one call of both.
//! Client 10.1.0.6 makes one call with audio and video (H.264 on a dynamic
//! payload type bound in its SDP).

use super::PcapWriter;
use pathlens_benches::frame::{udp_frame, Eth};
use pathlens_benches::payload::{rtp, PCMU_SILENCE_20MS};
use std::net::SocketAddr;
use std::path::Path;

const S: i64 = 1_000_000;
const T0: i64 = 1_795_300_000_000_000;
/// The SIP provider's proxy and media server.
const PROXY: &str = "203.0.113.10:5060";
const MEDIA_IP: &str = "203.0.113.20";

/// A call as built: its client, its media flows' client ends, modalities.
#[derive(Clone, Debug)]
pub struct SipCall {
    /// The calling client.
    pub client: &'static str,
    /// The client's media endpoints (`ip:port`), one per media flow.
    pub media: Vec<String>,
    /// `audio` or `audio,video`.
    pub modalities: &'static str,
}

struct Gen {
    frames: Vec<(i64, Vec<u8>)>,
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn eth(a: SocketAddr, b: SocketAddr) -> Eth {
    let mac = |s: SocketAddr| match s.ip() {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            [0x02, 0, o[0], o[1], o[2], o[3]]
        }
        std::net::IpAddr::V6(_) => [0x02, 0, 0, 0, 0, 6],
    };
    Eth::new(mac(a), mac(b))
}

impl Gen {
    fn udp(&mut self, t: i64, from: SocketAddr, to: SocketAddr, payload: &[u8]) {
        self.frames
            .push((t, udp_frame(eth(from, to), from, to, payload)));
    }

    /// A SIP message from `from` to `to` at `t`, with an SDP body when
    /// `sdp` lists media lines (`audio PORT 0` or `video PORT 96`).
    #[allow(clippy::too_many_arguments)]
    fn sip(
        &mut self,
        t: i64,
        from: SocketAddr,
        to: SocketAddr,
        first: &str,
        call_id: &str,
        sdp: &[(&str, u16)],
    ) {
        let mut body = String::new();
        if !sdp.is_empty() {
            body.push_str(&format!(
                "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n",
                ip = from.ip()
            ));
            for (kind, port) in sdp {
                match *kind {
                    "video" => body.push_str(&format!(
                        "m=video {port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                    )),
                    _ => body.push_str(&format!(
                        "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                    )),
                }
            }
        }
        let ctype = if body.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let msg = format!(
            "{first}\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{t}\r\nFrom: <sip:user@example.com>;tag=1\r\nTo: <sip:peer@example.com>\r\nCall-ID: {call_id}\r\nCSeq: 1 X\r\nUser-Agent: GenPhone/1.0\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.udp(t, from, to, msg.as_bytes());
    }

    /// RTP both ways between `a` and `b` from `t0` for `secs` seconds.
    fn media(&mut self, t0: i64, secs: i64, a: SocketAddr, b: SocketAddr, video: bool, ssrc: u32) {
        let (pt, step_us, ts_step, len) = if video {
            (96, 33_333, 3_000, 900)
        } else {
            (0, 20_000, 160, 160)
        };
        let payload = if video {
            vec![0x41; len]
        } else {
            PCMU_SILENCE_20MS.to_vec()
        };
        let n = (secs * S / step_us) as u32;
        for i in 0..n {
            let t = t0 + i64::from(i) * step_us;
            let seq = i as u16;
            self.udp(t, a, b, &rtp(pt, seq, i * ts_step, ssrc, &payload));
            self.udp(
                t + 7_000,
                b,
                a,
                &rtp(pt, seq, i * ts_step, ssrc + 1, &payload),
            );
        }
    }
}

/// Writes the capture; returns the calls in the order each client made them.
pub fn write(pcap: &Path) -> Vec<SipCall> {
    let mut g = Gen { frames: Vec::new() };
    let proxy = sa(PROXY);
    let media_at = |p: u16| sa(&format!("{MEDIA_IP}:{p}"));
    let mut calls = Vec::new();

    // Client A: a registration, then two calls a minute apart.
    let a_sip = sa("10.1.0.5:5060");
    g.sip(
        T0,
        a_sip,
        proxy,
        "REGISTER sip:example.com SIP/2.0",
        "reg-a@10.1.0.5",
        &[],
    );
    g.sip(
        T0 + S / 10,
        proxy,
        a_sip,
        "SIP/2.0 200 OK",
        "reg-a@10.1.0.5",
        &[],
    );
    for (k, start) in [(0u16, 1i64), (1, 61)] {
        let cid = format!("call-{k}-a@10.1.0.5");
        let (mine, theirs) = (40_000 + 2 * k, 20_000 + 2 * k);
        let t = T0 + start * S;
        g.sip(
            t,
            a_sip,
            proxy,
            "INVITE sip:peer@example.com SIP/2.0",
            &cid,
            &[("audio", mine)],
        );
        g.sip(
            t + S / 5,
            proxy,
            a_sip,
            "SIP/2.0 200 OK",
            &cid,
            &[("audio", theirs)],
        );
        g.sip(
            t + S / 4,
            a_sip,
            proxy,
            "ACK sip:peer@example.com SIP/2.0",
            &cid,
            &[],
        );
        let ends = (sa(&format!("10.1.0.5:{mine}")), media_at(theirs));
        g.media(
            t + S / 2,
            39,
            ends.0,
            ends.1,
            false,
            0x1000 + u32::from(k) * 16,
        );
        g.sip(
            t + 40 * S,
            a_sip,
            proxy,
            "BYE sip:peer@example.com SIP/2.0",
            &cid,
            &[],
        );
        g.sip(
            t + 40 * S + S / 10,
            proxy,
            a_sip,
            "SIP/2.0 200 OK",
            &cid,
            &[],
        );
        calls.push(SipCall {
            client: "10.1.0.5",
            media: vec![ends.0.to_string()],
            modalities: "audio",
        });
    }

    // Client B: one call, audio and video.
    let b_sip = sa("10.1.0.6:5060");
    let cid = "av-b@10.1.0.6";
    let t = T0 + 5 * S;
    let offer = [("audio", 41_000), ("video", 41_002)];
    g.sip(
        t,
        b_sip,
        proxy,
        "INVITE sip:peer@example.com SIP/2.0",
        cid,
        &offer,
    );
    g.sip(
        t + S / 5,
        proxy,
        b_sip,
        "SIP/2.0 200 OK",
        cid,
        &[("audio", 21_000), ("video", 21_002)],
    );
    g.media(
        t + S / 2,
        20,
        sa("10.1.0.6:41000"),
        media_at(21_000),
        false,
        0x2000,
    );
    g.media(
        t + S / 2,
        20,
        sa("10.1.0.6:41002"),
        media_at(21_002),
        true,
        0x2100,
    );
    g.sip(
        t + 21 * S,
        b_sip,
        proxy,
        "BYE sip:peer@example.com SIP/2.0",
        cid,
        &[],
    );
    calls.push(SipCall {
        client: "10.1.0.6",
        media: vec!["10.1.0.6:41000".into(), "10.1.0.6:41002".into()],
        modalities: "audio,video",
    });

    g.frames.sort_by_key(|f| f.0);
    let mut w = PcapWriter::create(pcap, 1, 65_535);
    for (t, f) in &g.frames {
        w.frame(*t, f);
    }
    w.finish();
    calls
}
