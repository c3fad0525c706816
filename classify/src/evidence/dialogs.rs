//! The SIP dialogs a clear-text signaling flow carries, for grouping calls
//! (`crate::calls`): each dialog by a hash of its `Call-ID`, with the media
//! endpoints its SDP offered or answered and when each was first named.
//!
//! The classifier reads only a flow's first SIP message; a signaling flow
//! (UDP 5060 between a phone and its proxy, or one TCP connection) carries
//! every call of its client, so this reads each later message too, several
//! per TCP segment by their `Content-Length`. A message cut across segments
//! is read as far as its first segment goes.

use crate::dissect::sip;
use std::net::SocketAddr;

/// Dialogs kept per record; a trunk carrying more has the others' media
/// grouped by time alone.
pub const MAX_DIALOGS: usize = 64;
/// Media endpoints kept per dialog (re-INVITEs may move its media).
const MAX_ENDPOINTS: usize = 16;
/// Messages read from one payload.
const MAX_MESSAGES: usize = 8;

/// One SIP dialog as a signaling flow showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// A hash of its `Call-ID` (the value is never kept).
    pub key: u64,
    /// Its first message, µs.
    pub first_us: i64,
    /// The media endpoints its SDP bodies named (either side's), each with
    /// the time it was first named, µs.
    pub endpoints: Vec<(SocketAddr, i64)>,
}

/// The dialogs of one flow record.
#[derive(Debug, Default)]
pub(super) struct Dialogs {
    list: Vec<Dialog>,
}

impl Dialogs {
    /// Reads the SIP messages at the start of one payload.
    pub(super) fn feed(&mut self, ts_us: i64, payload: &[u8]) {
        for m in sip::messages(payload, MAX_MESSAGES) {
            self.message(ts_us, &m);
        }
    }

    fn message(&mut self, ts_us: i64, m: &sip::SipMessage) {
        let Some(key) = m.call_id else {
            return;
        };
        let at = match self.list.iter().position(|d| d.key == key) {
            Some(i) => i,
            None if self.list.len() < MAX_DIALOGS => {
                self.list.push(Dialog {
                    key,
                    first_us: ts_us,
                    endpoints: Vec::new(),
                });
                self.list.len() - 1
            }
            None => return,
        };
        let Some(d) = self.list.get_mut(at) else {
            return;
        };
        for media in &m.media {
            let e = SocketAddr::new(media.addr, media.port);
            if d.endpoints.len() < MAX_ENDPOINTS && !d.endpoints.iter().any(|(a, _)| *a == e) {
                d.endpoints.push((e, ts_us));
            }
        }
    }

    /// The dialogs seen, in order of their first message.
    pub(super) fn list(&self) -> &[Dialog] {
        &self.list
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn msg(first: &str, call_id: &str, sdp: Option<(&str, u16)>) -> String {
        let body = sdp.map_or(String::new(), |(ip, port)| {
            format!("v=0\r\nc=IN IP4 {ip}\r\nm=audio {port} RTP/AVP 0\r\n")
        });
        format!(
            "{first}\r\nCall-ID: {call_id}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[test]
    fn dialogs_by_call_id_with_the_endpoints_each_named() {
        let mut d = Dialogs::default();
        let invite = msg("INVITE sip:b@x SIP/2.0", "a1@h", Some(("10.0.0.5", 40000)));
        d.feed(10, invite.as_bytes());
        let ok = msg("SIP/2.0 200 OK", "a1@h", Some(("192.0.2.9", 30000)));
        // Two messages in one segment: the answer, then another call's offer.
        let two = ok + &msg("INVITE sip:c@x SIP/2.0", "b2@h", Some(("10.0.0.5", 40002)));
        d.feed(20, two.as_bytes());
        d.feed(30, msg("BYE sip:b@x SIP/2.0", "a1@h", None).as_bytes());
        let l = d.list();
        assert_eq!(l.len(), 2);
        assert_ne!(l[0].key, l[1].key);
        let named = |i: usize| {
            l[i].endpoints
                .iter()
                .map(|(a, t)| (a.to_string(), *t))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            named(0),
            [
                ("10.0.0.5:40000".into(), 10),
                ("192.0.2.9:30000".into(), 20)
            ]
        );
        assert_eq!(named(1), [("10.0.0.5:40002".into(), 20)]);
        assert_eq!((l[0].first_us, l[1].first_us), (10, 20));
    }

    #[test]
    fn no_call_id_no_dialog_and_the_count_is_bounded() {
        let mut d = Dialogs::default();
        d.feed(1, b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        d.feed(1, b"\x80\x00 not sip");
        assert!(d.list().is_empty());
        for i in 0..MAX_DIALOGS + 5 {
            d.feed(
                2,
                msg("INVITE sip:b@x SIP/2.0", &format!("c{i}"), None).as_bytes(),
            );
        }
        assert_eq!(d.list().len(), MAX_DIALOGS);
    }
}
