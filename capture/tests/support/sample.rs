//! The generator of `testdata/sample.pcap`: a small, deterministic capture of
//! an office site talking to Office 365 and to its own Skype for Business
//! servers (DNS, HTTPS with SNI, SIP over TLS, STUN then RTP to a Teams relay,
//! peer-to-peer RTP, PSOM, SMTP with STARTTLS, IPv6 HTTPS to SharePoint, ICMP,
//! ARP, a refused connection). Payloads are built field by field; nothing is
//! copied from real traffic.

use super::PcapWriter;
use pathlens_benches::frame::{
    icmp_echo_frame, tcp_frame, udp_frame, Eth, Tcp, ACK, FIN, PSH, SYN,
};
pub use pathlens_benches::payload::{client_hello, server_hello, tls_data};
use pathlens_benches::payload::{dns_message, rtp, stun, xor_mapped_v4};
use std::net::IpAddr;
use std::path::Path;

const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const T0: i64 = 1_793_610_000_000_000; // 2026-11-02 09:00:00 UTC

fn mac_of(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0x06, o[12], o[13], o[14], o[15]]
        }
    }
}

/// Frame builder for one capture.
pub struct Sample {
    w: PcapWriter,
    /// Current time, µs.
    pub now: i64,
    seqs: std::collections::HashMap<(IpAddr, u16, IpAddr, u16), u32>,
}

enum L4 {
    Tcp { flags: u8 },
    Udp,
    Icmp { ty: u8 },
}

impl Sample {
    fn emit(
        &mut self,
        src: (&str, u16),
        dst: (&str, u16),
        l4: L4,
        payload: &[u8],
        vlan: Option<u16>,
    ) {
        let (s, d): (IpAddr, IpAddr) = (src.0.parse().unwrap(), dst.0.parse().unwrap());
        let local = |ip: IpAddr| match ip {
            IpAddr::V4(a) => a.is_private(),
            IpAddr::V6(a) => a.segments()[0] & 0xfe00 == 0xfc00,
        };
        let smac = if local(s) { mac_of(s) } else { GW_MAC };
        let dmac = if local(d) { mac_of(d) } else { GW_MAC };
        // Only IPv4 frames carry the site's VLAN tag.
        let eth = Eth::new(smac, dmac).vlan(vlan.filter(|_| s.is_ipv4()));
        let frame = match l4 {
            L4::Udp => udp_frame(eth, (s, src.1), (d, dst.1), payload),
            L4::Icmp { ty } => icmp_echo_frame(eth, s, d, ty == 8, (7, 1), payload),
            L4::Tcp { flags } => {
                let ack = *self.seqs.get(&(d, dst.1, s, src.1)).unwrap_or(&0);
                let seq = *self.seqs.entry((s, src.1, d, dst.1)).or_insert(1000);
                let s2 = self.seqs.get_mut(&(s, src.1, d, dst.1)).unwrap();
                *s2 = s2.wrapping_add(payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0));
                let tcp = Tcp {
                    seq,
                    ack,
                    flags,
                    window: 64240,
                };
                tcp_frame(eth, (s, src.1), (d, dst.1), tcp, payload)
            }
        };
        self.w.frame(self.now, &frame);
    }

    fn tcp(
        &mut self,
        a: (&str, u16),
        b: (&str, u16),
        flags: u8,
        payload: &[u8],
        vlan: Option<u16>,
    ) {
        self.emit(a, b, L4::Tcp { flags }, payload, vlan);
        self.now += 700;
    }

    fn udp(&mut self, a: (&str, u16), b: (&str, u16), payload: &[u8], vlan: Option<u16>) {
        self.emit(a, b, L4::Udp, payload, vlan);
        self.now += 300;
    }

    /// A TCP handshake, the given exchanges (client, server payloads), and a FIN close when `close`.
    fn tcp_session(
        &mut self,
        c: (&str, u16),
        s: (&str, u16),
        exchanges: &[(Vec<u8>, Vec<u8>)],
        close: bool,
        vlan: Option<u16>,
    ) {
        self.tcp(c, s, SYN, &[], vlan);
        self.tcp(s, c, SYN | ACK, &[], vlan);
        self.tcp(c, s, ACK, &[], vlan);
        for (q, r) in exchanges {
            if !q.is_empty() {
                self.tcp(c, s, PSH | ACK, q, vlan);
            }
            for chunk in r.chunks(1400) {
                self.tcp(s, c, PSH | ACK, chunk, vlan);
            }
            self.tcp(c, s, ACK, &[], vlan);
            self.now += 20_000;
        }
        if close {
            self.tcp(c, s, FIN | ACK, &[], vlan);
            self.tcp(s, c, FIN | ACK, &[], vlan);
            self.tcp(c, s, ACK, &[], vlan);
        }
    }
}

/// A transaction id of twelve bytes counting up from `first`.
fn tid(first: u8) -> [u8; 12] {
    std::array::from_fn(|i| first.wrapping_add(i as u8))
}

/// 160 bytes of a recognisable ramp: the sample's voice payload.
fn voice() -> Vec<u8> {
    (0..160).map(|i| (i as u8).wrapping_mul(7)).collect()
}

fn dns_query(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    match answer {
        Some(a) => dns_message(id, name, 1, 60, &[&a]),
        None => dns_message(id, name, 1, 60, &[]),
    }
}

/// Writes the sample capture.
pub fn write_sample(path: &Path) {
    let mut s = Sample {
        w: PcapWriter::create(path, 1, 65535),
        now: T0,
        seqs: Default::default(),
    };
    let client = "10.10.1.20";
    let v = Some(100);
    // ARP who-has for the gateway: not IP, counted as such.
    for i in 0..2u8 {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&mac_of(client.parse().unwrap()));
        arp.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&mac_of(client.parse().unwrap()));
        arp.extend_from_slice(&[10, 10, 1, 20, 0, 0, 0, 0, 0, 0, 10, 10, 1, 1 + i]);
        s.w.frame(s.now, &arp);
        s.now += 1000;
    }
    // DNS, then HTTPS to Teams.
    s.udp(
        (client, 53001),
        ("10.10.0.53", 53),
        &dns_query(0x1a2b, "teams.microsoft.com", None),
        v,
    );
    s.udp(
        ("10.10.0.53", 53),
        (client, 53001),
        &dns_query(0x1a2b, "teams.microsoft.com", Some([52, 113, 194, 132])),
        v,
    );
    s.tcp_session(
        (client, 50500),
        ("52.113.194.132", 443),
        &[
            (
                client_hello("teams.microsoft.com", "h2", 1),
                server_hello(2900, 1),
            ),
            (tls_data(600, 2), tls_data(4000, 3)),
        ],
        true,
        v,
    );
    // SIP over TLS to the on-premises Front End pool; stays open.
    s.tcp_session(
        (client, 50600),
        ("10.10.0.10", 5061),
        &[
            (
                client_hello("pool01.contoso.com", "", 4),
                server_hello(1800, 4),
            ),
            (tls_data(900, 5), tls_data(400, 6)),
        ],
        false,
        v,
    );
    // A refused plain-SIP connection.
    s.tcp((client, 50800), ("10.10.0.10", 5060), 0x02, &[], v);
    s.tcp(("10.10.0.10", 5060), (client, 50800), 0x14, &[], v);
    // PSOM web conferencing to the Front End.
    s.tcp_session(
        (client, 50700),
        ("10.10.0.11", 8057),
        &[
            (
                client_hello("webcon01.contoso.com", "", 7),
                server_hello(1500, 7),
            ),
            (tls_data(300, 8), tls_data(2500, 9)),
        ],
        true,
        v,
    );
    // STUN binding to a Teams media relay, then 5 s of audio both ways.
    let relay = ("52.114.76.10", 3478);
    let media = (client, 50010);
    s.udp(media, relay, &stun(0x0001, &tid(1), &[]), v);
    // The relay saw the client as 203.0.113.9.
    let xor = xor_mapped_v4([203, 0, 113, 9], 50010);
    s.udp(relay, media, &stun(0x0101, &tid(1), &xor), v);
    let voice = voice();
    for i in 0..250u16 {
        s.udp(
            media,
            relay,
            &rtp(0, 4000 + i, 160 * u32::from(i), 0x1111_2222, &voice),
            v,
        );
        s.udp(
            relay,
            media,
            &rtp(0, 9000 + i, 320 * u32::from(i), 0x3333_4444, &voice),
            v,
        );
        s.now += 19_400;
    }
    // Peer-to-peer audio with a colleague on another floor (internal).
    let peer = ("10.10.2.30", 50014);
    let me = (client, 50012);
    for i in 0..100u16 {
        s.udp(
            me,
            peer,
            &rtp(8, 100 + i, 160 * u32::from(i), 0x5555_6666, &voice),
            None,
        );
        s.udp(
            peer,
            me,
            &rtp(8, 700 + i, 160 * u32::from(i), 0x7777_8888, &voice),
            None,
        );
        s.now += 19_400;
    }
    // Exchange on premises relaying mail to Exchange Online Protection.
    s.tcp_session(
        ("10.10.0.25", 40001),
        ("52.101.68.5", 25),
        &[
            (
                Vec::new(),
                b"220 mail.protection.outlook.com Microsoft ESMTP MAIL Service ready\r\n".to_vec(),
            ),
            (
                b"EHLO mail.contoso.com\r\n".to_vec(),
                b"250-mail.protection.outlook.com Hello\r\n250-STARTTLS\r\n250 SIZE 157286400\r\n"
                    .to_vec(),
            ),
            (
                b"STARTTLS\r\n".to_vec(),
                b"220 2.0.0 SMTP server ready\r\n".to_vec(),
            ),
            (
                client_hello("mail.protection.outlook.com", "", 10),
                server_hello(3000, 10),
            ),
        ],
        true,
        None,
    );
    // SharePoint over IPv6.
    s.tcp_session(
        ("fd10:10::20", 50900),
        ("2603:1061:1300::1", 443),
        &[
            (
                client_hello("contoso.sharepoint.com", "h2", 11),
                server_hello(2600, 11),
            ),
            (tls_data(500, 12), tls_data(6000, 13)),
        ],
        true,
        None,
    );
    // ICMP echo to the Teams address.
    for i in 0..3 {
        s.emit(
            (client, 0),
            ("52.113.194.132", 0),
            L4::Icmp { ty: 8 },
            &[i; 32],
            v,
        );
        s.now += 15_000;
        s.emit(
            ("52.113.194.132", 0),
            (client, 0),
            L4::Icmp { ty: 0 },
            &[i; 32],
            v,
        );
        s.now += 1_000_000;
    }
    s.w.finish();
}
