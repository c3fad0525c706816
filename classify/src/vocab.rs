//! The vocabulary shared by every stage: flow keys, transports and the labels
//! a flow carries into its output row. String forms are the exact values of
//! the Parquet contract (`export/SCHEMA.md`), so they must not change casually.

use std::fmt;
use std::net::IpAddr;

/// Transport as written in the `transport` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
    /// ICMP for IPv4 (IP protocol 1).
    Icmp,
    /// ICMPv6 (IP protocol 58).
    Icmpv6,
    /// SCTP (IP protocol 132).
    Sctp,
    /// Any other IP protocol: the flow has no ports.
    Other,
}

impl Transport {
    /// Maps an IANA protocol number to its transport class.
    pub fn from_ip_proto(proto: u8) -> Self {
        match proto {
            6 => Transport::Tcp,
            17 => Transport::Udp,
            1 => Transport::Icmp,
            58 => Transport::Icmpv6,
            132 => Transport::Sctp,
            _ => Transport::Other,
        }
    }

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
            Transport::Icmpv6 => "icmpv6",
            Transport::Sctp => "sctp",
            Transport::Other => "other",
        }
    }

    /// Whether this transport has 16-bit ports in its header.
    pub fn has_ports(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Udp | Transport::Sctp)
    }
}

/// One side of a flow, relative to the initiator (`src`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Sent by the initiator.
    Src2Dst,
    /// Sent by the responder.
    Dst2Src,
}

impl Side {
    /// The other direction.
    pub fn flip(self) -> Self {
        match self {
            Side::Src2Dst => Side::Dst2Src,
            Side::Dst2Src => Side::Src2Dst,
        }
    }
}

/// A direction-free flow key: the two endpoints in canonical order (`lo <= hi`),
/// the IP protocol and the outer VLAN. Both directions of a flow map to one key.
///
/// For ICMP the ports hold (type, code) of the first packet's class; for
/// protocols without ports they are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// Lower endpoint address.
    pub lo_addr: IpAddr,
    /// Higher endpoint address.
    pub hi_addr: IpAddr,
    /// Port of the lower endpoint.
    pub lo_port: u16,
    /// Port of the higher endpoint.
    pub hi_port: u16,
    /// IANA IP protocol number.
    pub proto: u8,
    /// Outer VLAN id, 0 if untagged.
    pub vlan: u16,
    /// The tunnel network or mirror session the packets came through (a
    /// folded VNI or ERSPAN session id), 0 when none: two VNIs carrying the
    /// same inner 5-tuple are two conversations.
    pub tunnel: u32,
}

/// An address as (is IPv6, its value as a number): ordered as `IpAddr`
/// orders addresses (IPv4 first, then by bytes), and hashable as two words.
#[inline]
fn addr_number(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v) => (false, u128::from(u32::from(v))),
        IpAddr::V6(v) => (true, u128::from(v)),
    }
}

impl std::hash::Hash for FlowKey {
    /// Three word writes instead of one per field (and per address byte
    /// slice): the key is hashed twice for every packet, to pick its
    /// worker and to find its flow.
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let ((lo6, lo), (hi6, hi)) = (addr_number(self.lo_addr), addr_number(self.hi_addr));
        let (lo6, hi6) = (u64::from(lo6), u64::from(hi6));
        h.write_u128(lo);
        h.write_u128(hi ^ u128::from(self.tunnel) << 64);
        h.write_u64(
            u64::from(self.lo_port)
                | u64::from(self.hi_port) << 16
                | u64::from(self.proto) << 32
                | u64::from(self.vlan) << 40
                | lo6 << 56
                | hi6 << 57,
        );
    }
}

impl FlowKey {
    /// Builds the canonical key of a packet and tells which side sent it:
    /// `true` when the sender is the `lo` endpoint.
    #[inline]
    pub fn new(
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        proto: u8,
        vlan: u16,
    ) -> (Self, bool) {
        // The order of (IpAddr, port) pairs, on integers: IpAddr's own
        // comparison was a call per packet.
        if (addr_number(src), sport) <= (addr_number(dst), dport) {
            let k = FlowKey {
                lo_addr: src,
                hi_addr: dst,
                lo_port: sport,
                hi_port: dport,
                proto,
                vlan,
                tunnel: 0,
            };
            (k, true)
        } else {
            let k = FlowKey {
                lo_addr: dst,
                hi_addr: src,
                lo_port: dport,
                hi_port: sport,
                proto,
                vlan,
                tunnel: 0,
            };
            (k, false)
        }
    }

    /// The same key inside the tunnel network or mirror session `tunnel`.
    #[inline]
    pub fn in_tunnel(self, tunnel: u32) -> Self {
        FlowKey { tunnel, ..self }
    }
}

/// The `app_protocol` column's value list, as its doc gives it: each value
/// with its note, the last after "or". Built by `app_protocols!` at
/// compile time, so the column doc cannot drift from the vocabulary.
macro_rules! values_doc {
    ($name:literal $note:literal) => {
        concat!("or `", $name, "`", $note)
    };
    ($name:literal $note:literal $($rest:literal $rnote:literal)+) => {
        concat!("`", $name, "`", $note, ", ", values_doc!($($rest $rnote)+))
    };
}

/// Declares [`AppProtocol`] from one table: each class once, with its column
/// value, its traffic type and its note in the column doc. The enum, `ALL`,
/// `as_str`, `parse`, `default_traffic_type` and `VALUES_DOC` all follow.
macro_rules! app_protocols {
    ($( $(#[$attr:meta])* $v:ident = $name:literal, $traffic:ident, $note:literal; )+) => {
        /// The class of a flow (`app_protocol` column).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum AppProtocol {
            $( $(#[$attr])* $v, )+
        }

        impl AppProtocol {
            /// Every value, in the order of the schema.
            pub const ALL: [AppProtocol; [$($name),+].len()] = [$(AppProtocol::$v),+];

            /// The values with their notes, as the `app_protocol` column's
            /// doc (and so `SCHEMA.md`) lists them.
            pub const VALUES_DOC: &'static str = values_doc!($($name $note)+);

            /// The column value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( AppProtocol::$v => $name, )+
                }
            }

            /// The traffic type the seeds assign to this class (domain.md §1.3).
            pub fn default_traffic_type(self) -> TrafficType {
                match self {
                    $( AppProtocol::$v => TrafficType::$traffic, )+
                }
            }
        }
    };
}

// The vocabulary of `app_protocol`, in the schema's order. A new class is one
// line here: variant = column value, traffic type, note for the column doc.
app_protocols! {
    Sip = "sip", Signaling, "";
    SipTls = "sip_tls", Signaling, "";
    Rtp = "rtp", Media, "";
    Srtp = "srtp", Media, "";
    Rtcp = "rtcp", Media, "";
    StunTurn = "stun_turn", Media, "";
    Dtls = "dtls", Media, "";
    Psom = "psom", WebConferencing, "";
    Smtp = "smtp", Mail, "";
    Pop3 = "pop3", Mail, "";
    Imap = "imap", Mail, "";
    Xmpp = "xmpp", Signaling, "";
    Https = "https", Web, "";
    Tls = "tls", Web, "";
    Http = "http", Web, "";
    Dns = "dns", Infrastructure, "";
    /// IPsec: ESP (IP protocol 50), AH (51), or ESP in UDP on 4500.
    Ipsec = "ipsec", Tunnel, " (ESP, AH, ESP in UDP 4500)";
    /// IKE key exchange: UDP 500, or 4500 behind the NAT-T non-ESP marker.
    Ike = "ike", Tunnel, " (UDP 500, or 4500 with the NAT-T non-ESP marker or only keepalives)";
    /// A TLS or DTLS VPN (by server name, or DTLS on UDP 443).
    SslVpn = "ssl_vpn", Tunnel, " (a VPN gateway's server name, or DTLS on UDP 443 without ICE)";
    /// MQTT, from the client's CONNECT.
    Mqtt = "mqtt", Other, " (an MQTT 3.1, 3.1.1 or 5.0 CONNECT)";
    Other = "other", Other, "";
    Unknown = "unknown", Other, " when nothing matched";
}

impl AppProtocol {
    /// Whether the class is a VPN tunnel or its key exchange.
    pub fn is_tunnel(self) -> bool {
        self.default_traffic_type() == TrafficType::Tunnel
    }

    /// Parses a column value.
    pub fn parse(s: &str) -> Option<Self> {
        AppProtocol::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Classes whose flows carry RTP: plain or secure media, RTCP, and the
    /// ICE flows (STUN checks, then DTLS-SRTP or relayed media) that go on to
    /// carry it. They are the media traffic type.
    pub fn carries_media(self) -> bool {
        self.default_traffic_type() == TrafficType::Media
    }
}

impl fmt::Display for AppProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What named a flow's service (`service_source` column), in the order the
/// sources are consulted. A port is never one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceSource {
    /// The TLS SNI / HTTP Host matched a server-name rule.
    Sni,
    /// The remote address is in an Office 365 endpoint set.
    O365,
    /// Microsoft's own protocol markers: MS-TURN / MS-ICE attributes, a
    /// Lync / Skype for Business SIP agent, an Exchange mail greeting.
    Protocol,
    /// A configured on-premises server.
    Config,
    /// A media endpoint learned from a flow that had such evidence.
    Correlation,
}

impl ServiceSource {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceSource::Sni => "sni",
            ServiceSource::O365 => "o365",
            ServiceSource::Protocol => "protocol",
            ServiceSource::Config => "config",
            ServiceSource::Correlation => "correlation",
        }
    }
}

/// How a label was reached (`app_protocol_source` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppSource {
    /// A dissector recognised the payload.
    Payload,
    /// A port rule matched.
    Port,
    /// Packet sizes and timing (e.g. media cadence over TCP).
    Behaviour,
    /// Learned from another flow (SIP/SDP, STUN addresses).
    Correlation,
    /// Nothing matched.
    None,
}

impl AppSource {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            AppSource::Payload => "payload",
            AppSource::Port => "port",
            AppSource::Behaviour => "behaviour",
            AppSource::Correlation => "correlation",
            AppSource::None => "none",
        }
    }
}

/// The seeds' traffic categories (`traffic_type` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum TrafficType {
    Signaling,
    Media,
    WebConferencing,
    Mail,
    Web,
    Infrastructure,
    /// VPN tunnels and their key exchange (IPsec, IKE, SSL VPN).
    Tunnel,
    Other,
}

impl TrafficType {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficType::Signaling => "signaling",
            TrafficType::Media => "media",
            TrafficType::WebConferencing => "web_conferencing",
            TrafficType::Mail => "mail",
            TrafficType::Web => "web",
            TrafficType::Infrastructure => "infrastructure",
            TrafficType::Tunnel => "tunnel",
            TrafficType::Other => "other",
        }
    }

    /// The type of a web-class flow (HTTPS, TLS, HTTP) once its service is
    /// known: the seeds count HTTP/HTTPS/TLS control traffic to SfB/Teams as
    /// signaling, and Exchange client traffic as mail (docs/call-flows.md §1.3, rules 3
    /// and 5). Any other flow keeps its type.
    pub fn for_service(self, app: AppProtocol, service: Option<&str>) -> Self {
        let web_class = matches!(
            app,
            AppProtocol::Https | AppProtocol::Tls | AppProtocol::Http
        );
        match (self, web_class, service) {
            (TrafficType::Web, true, Some("skype_teams")) => TrafficType::Signaling,
            (TrafficType::Web, true, Some("exchange")) => TrafficType::Mail,
            (t, _, _) => t,
        }
    }

    /// Parses a column value.
    pub fn parse(s: &str) -> Option<Self> {
        [
            TrafficType::Signaling,
            TrafficType::Media,
            TrafficType::WebConferencing,
            TrafficType::Mail,
            TrafficType::Web,
            TrafficType::Infrastructure,
            TrafficType::Tunnel,
            TrafficType::Other,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// Why a flow record ended (`end_reason` column, IPFIX flowEndReason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndReason {
    /// No packet for the idle timeout.
    IdleTimeout,
    /// The record reached the active timeout; the flow continues in a new row.
    ActiveTimeout,
    /// TCP FIN in both directions or RST.
    EndOfFlow,
    /// End of input or shutdown.
    ForcedEnd,
    /// Evicted because the flow table was full.
    LackOfResources,
}

impl EndReason {
    /// Every value.
    pub const ALL: [EndReason; 5] = [
        EndReason::IdleTimeout,
        EndReason::ActiveTimeout,
        EndReason::EndOfFlow,
        EndReason::ForcedEnd,
        EndReason::LackOfResources,
    ];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::ActiveTimeout => "active_timeout",
            EndReason::EndOfFlow => "end_of_flow",
            EndReason::ForcedEnd => "forced_end",
            EndReason::LackOfResources => "lack_of_resources",
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn key_is_symmetric() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let (k1, lo1) = FlowKey::new(a, 5000, b, 443, 6, 0);
        let (k2, lo2) = FlowKey::new(b, 443, a, 5000, 6, 0);
        assert_eq!(k1, k2);
        assert_ne!(lo1, lo2);
        // Same address, ports decide the order.
        let (k3, _) = FlowKey::new(a, 9, a, 8, 17, 0);
        assert_eq!((k3.lo_port, k3.hi_port), (8, 9));
    }

    /// The canonical side is the lower (IpAddr, port) pair, as IpAddr
    /// orders them (output rows name `lo`/`hi` from it).
    #[test]
    fn lo_is_the_lower_pair() {
        let addrs: Vec<IpAddr> = [
            "0.0.0.0",
            "9.255.0.1",
            "10.0.0.1",
            "10.0.0.2",
            "128.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            "fe80::1",
            "ffff::",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        for &a in &addrs {
            for &b in &addrs {
                for (pa, pb) in [(1, 2), (2, 1), (443, 443), (65535, 0)] {
                    let (k, from_lo) = FlowKey::new(a, pa, b, pb, 6, 0);
                    let lower = (a, pa) <= (b, pb);
                    assert_eq!(from_lo, lower, "{a}:{pa} {b}:{pb}");
                    let lo = if lower { (a, pa) } else { (b, pb) };
                    assert_eq!((k.lo_addr, k.lo_port), lo);
                }
            }
        }
    }

    #[test]
    fn web_control_traffic_takes_its_service_type() {
        use AppProtocol as A;
        use TrafficType as T;
        assert_eq!(
            T::Web.for_service(A::Https, Some("skype_teams")),
            T::Signaling
        );
        assert_eq!(T::Web.for_service(A::Tls, Some("exchange")), T::Mail);
        assert_eq!(T::Web.for_service(A::Https, Some("sharepoint")), T::Web);
        assert_eq!(T::Web.for_service(A::Https, None), T::Web);
        // Media over TCP 443 stays media; a port-only SIP flow keeps its type.
        assert_eq!(
            T::Media.for_service(A::Https, Some("skype_teams")),
            T::Media
        );
        assert_eq!(T::Web.for_service(A::Other, Some("skype_teams")), T::Web);
    }

    #[test]
    fn app_protocol_round_trips() {
        for a in AppProtocol::ALL {
            assert_eq!(AppProtocol::parse(a.as_str()), Some(a));
        }
        assert_eq!(AppProtocol::parse("nope"), None);
    }

    /// The column doc's list is the vocabulary: every value once, in order.
    #[test]
    fn values_doc_lists_every_value_in_order() {
        let doc = AppProtocol::VALUES_DOC;
        let mut at = 0;
        for a in AppProtocol::ALL {
            let quoted = format!("`{}`", a.as_str());
            let i = doc[at..].find(&quoted).map(|i| i + at);
            assert!(i.is_some(), "{quoted} missing or out of order in {doc}");
            at = i.unwrap() + quoted.len();
        }
        assert!(doc.ends_with("or `unknown` when nothing matched"));
    }
}
