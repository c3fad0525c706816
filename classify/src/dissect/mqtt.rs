//! MQTT (OASIS MQTT 3.1.1 and 5.0, and IBM's 3.1), recognised from the
//! client's CONNECT, the first packet of every session (3.1.1 §3.1): fixed
//! header 0x10 (type 1, reserved flags zero), the remaining length as a
//! variable byte integer of at most four bytes (§2.2.3), the protocol name
//! `MQTT` with level 4 or 5 (`MQIsdp` with level 3), connect flags whose
//! reserved bit is zero and whose will fields are set only with the will
//! flag (§3.1.2.3, §3.1.2.6), and a keep-alive. Plain MQTT runs on TCP 1883,
//! over TLS on 8883 (which the TLS probe sees first), but the CONNECT names
//! itself, so the probe runs on any port.

use super::cursor::Cursor;
use super::ProbeResult;
use crate::vocab::AppProtocol;

/// The fixed fields of a CONNECT packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect {
    /// Protocol level: 3 (3.1, `MQIsdp`), 4 (3.1.1) or 5 (5.0).
    pub level: u8,
    /// The remaining length the fixed header announces.
    pub remaining_len: u32,
    /// Keep-alive, seconds (0: none).
    pub keep_alive_s: u16,
    /// Clean session (3.1.1) or clean start (5.0).
    pub clean_start: bool,
    /// A will message follows the client identifier.
    pub will: bool,
    /// A user name is present.
    pub username: bool,
    /// A password is present.
    pub password: bool,
}

/// Largest remaining length a four-byte variable byte integer holds.
pub const MAX_REMAINING: u32 = 268_435_455;

/// Reads a variable byte integer (§1.5.5): seven bits a byte, low first,
/// at most four bytes.
fn varint(c: &mut Cursor<'_>) -> Option<u32> {
    let mut v = 0u32;
    for i in 0..4 {
        let b = c.u8()?;
        v |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Parses the start of a client-to-server payload as a CONNECT; `None`
/// unless every fixed field is what the specifications allow.
pub fn parse_connect(p: &[u8]) -> Option<Connect> {
    let mut c = Cursor::new(p);
    if c.u8()? != 0x10 {
        return None;
    }
    let remaining_len = varint(&mut c)?;
    let name_len = c.u16()?;
    let name = c.bytes(usize::from(name_len))?;
    let level = c.u8()?;
    match (name, level) {
        (b"MQTT", 4 | 5) | (b"MQIsdp", 3) => {}
        _ => return None,
    }
    let flags = c.u8()?;
    let keep_alive_s = c.u16()?;
    let will = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0x03;
    let username = flags & 0x80 != 0;
    let password = flags & 0x40 != 0;
    if flags & 0x01 != 0 || will_qos == 3 || (!will && flags & 0x38 != 0) {
        return None;
    }
    // Before 5.0 a password needs a user name (3.1.1 §3.1.2.9).
    if level < 5 && password && !username {
        return None;
    }
    // The variable header, then at least the client identifier's length
    // (and in 5.0 the property length before it).
    let header = 2 + u32::from(name_len) + 4;
    let least = header + 2 + u32::from(level == 5);
    if remaining_len < least {
        return None;
    }
    Some(Connect {
        level,
        remaining_len,
        keep_alive_s,
        clean_start: flags & 0x02 != 0,
        will,
        username,
        password,
    })
}

/// The MQTT probe: a CONNECT settles the flow; anything else is not MQTT's
/// (a capture that starts mid-session is left to the other probes).
pub fn probe(p: &[u8]) -> ProbeResult {
    if parse_connect(p).is_some() {
        ProbeResult::Certain(AppProtocol::Mqtt)
    } else {
        ProbeResult::NotForUs
    }
}

/// A CONNECT with client id `id`, for tests and fuzz seeds: `MQTT` level 4
/// (or `MQIsdp` level 3), clean session, keep-alive 60 s.
pub fn connect(level: u8, id: &str) -> Vec<u8> {
    let name: &[u8] = if level == 3 { b"MQIsdp" } else { b"MQTT" };
    let mut body = Vec::new();
    body.extend((name.len() as u16).to_be_bytes());
    body.extend(name);
    body.extend([level, 0x02, 0, 60]);
    if level == 5 {
        body.push(0); // no properties
    }
    body.extend((id.len() as u16).to_be_bytes());
    body.extend(id.as_bytes());
    let mut p = vec![0x10];
    let mut n = body.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            p.push(b);
            break;
        }
        p.push(b | 0x80);
    }
    p.extend(body);
    p
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::vocab::{AppSource, Side, TrafficType, Transport};
    use crate::{FlowClassifier, FlowShape, Inspection, Signatures};

    #[test]
    fn connect_of_each_version() {
        for level in [3, 4, 5] {
            let p = connect(level, "sensor-17");
            let c = parse_connect(&p).unwrap();
            assert_eq!(c.level, level);
            assert_eq!(c.remaining_len as usize, p.len() - 2);
            assert!(c.clean_start && !c.will && !c.username && !c.password);
            assert_eq!(c.keep_alive_s, 60);
        }
        // The variable header of the 3.1.1 specification's example
        // (§3.1.2.10: user name, password, will QoS 1, will, clean
        // session), an empty client id after it.
        let p = [
            0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xce, 0, 10, 0, 0,
        ];
        let c = parse_connect(&p).unwrap();
        assert!(c.username && c.password && c.will && c.clean_start);
        assert_eq!(c.keep_alive_s, 10);
    }

    #[test]
    fn every_truncation_is_refused() {
        let p = connect(4, "x");
        // Up to the keep-alive's last byte everything is needed.
        for n in 0..12 {
            assert_eq!(parse_connect(&p[..n]), None, "cut at {n}");
        }
        for n in 12..=p.len() {
            assert!(parse_connect(&p[..n]).is_some(), "cut at {n}");
        }
    }

    #[test]
    fn what_is_not_a_connect() {
        let good = connect(4, "x");
        let with = |i: usize, b: u8| {
            let mut p = good.clone();
            p[i] = b;
            parse_connect(&p)
        };
        assert_eq!(with(0, 0x20), None, "a CONNACK");
        assert_eq!(with(0, 0x11), None, "reserved flags set");
        assert_eq!(with(8, 3), None, "MQTT with level 3");
        assert_eq!(with(8, 6), None, "unknown level");
        assert_eq!(with(9, 0x03), None, "reserved connect flag");
        assert_eq!(with(9, 0x08), None, "will QoS without a will");
        assert_eq!(with(9, 0x1c), None, "will QoS 3");
        assert_eq!(with(9, 0x40), None, "a password without a user name");
        assert_eq!(with(1, 9), None, "remaining length below the header");
        assert_eq!(with(4, b'X'), None, "another protocol name");
        assert_eq!(
            parse_connect(&connect(3, "x")[..]).map(|c| c.level),
            Some(3)
        );
        // A length that never ends (five continuation bytes).
        assert_eq!(parse_connect(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), None);
        assert_eq!(parse_connect(b"GET / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse_connect(&[0x16, 3, 1, 0, 5, 1, 0, 0, 1, 3]), None);
    }

    #[test]
    fn four_byte_lengths() {
        let mut c = Cursor::new(&[0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(varint(&mut c), Some(MAX_REMAINING));
        let mut c = Cursor::new(&[0x80, 0x01]);
        assert_eq!(varint(&mut c), Some(128));
        let id = "i".repeat(200);
        let p = connect(5, &id);
        assert_eq!(p[1] & 0x80, 0x80, "a two-byte length");
        assert_eq!(
            parse_connect(&p).unwrap().remaining_len as usize,
            p.len() - 3
        );
    }

    #[test]
    fn a_connect_names_the_flow_on_any_port() {
        let s = Signatures::builtin().unwrap();
        for dport in [1883, 443, 41000] {
            let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, dport);
            let done = c.feed(&s, Side::Src2Dst, &connect(4, "meter-3"));
            assert_eq!(done, Inspection::Done, "port {dport}");
            let r = c.result(&s, &FlowShape::default());
            assert_eq!(
                (r.app(), r.source, r.traffic_type),
                (
                    AppProtocol::Mqtt,
                    Some(AppSource::Payload),
                    Some(TrafficType::Other)
                )
            );
        }
        // A CONNACK alone (a capture that missed the CONNECT) is not enough.
        let mut c = FlowClassifier::new(&s, Transport::Tcp, 50123, 1883);
        c.feed(&s, Side::Dst2Src, &[0x20, 2, 0, 0]);
        assert_eq!(
            c.result(&s, &FlowShape::default()).app(),
            AppProtocol::Other
        );
    }

    proptest::proptest! {
        /// The fuzz target's checks (`fuzz/fuzz_targets/dissect_mqtt.rs`)
        /// on CONNECTs with one byte changed and on arbitrary bytes.
        #[test]
        fn mutated_connects_keep_the_invariants(
            level in 3u8..=5,
            id in "[a-z0-9]{0,40}",
            at in 0usize..64,
            byte in proptest::prelude::any::<u8>(),
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let mut p = connect(level, &id);
            if let Some(b) = p.get_mut(at) {
                *b = byte;
            }
            for data in [&p[..], &junk[..]] {
                let parsed = parse_connect(data);
                if let Some(c) = parsed {
                    proptest::prop_assert_eq!(data.first(), Some(&0x10));
                    proptest::prop_assert!(matches!(c.level, 3..=5));
                    let name_len = if c.level == 3 { 6 } else { 4 };
                    proptest::prop_assert!(data.len() >= 1 + 1 + 2 + name_len + 4);
                    proptest::prop_assert!(c.remaining_len as usize >= 2 + name_len + 4 + 2);
                    proptest::prop_assert!(c.level == 5 || !c.password || c.username);
                }
                let want = match parsed {
                    Some(_) => ProbeResult::Certain(AppProtocol::Mqtt),
                    None => ProbeResult::NotForUs,
                };
                proptest::prop_assert_eq!(probe(data), want);
            }
        }
    }
}
