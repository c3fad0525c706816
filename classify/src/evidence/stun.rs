//! STUN transaction pairing for `stun_rtt_ms`: a request of the initiator
//! and the response that carries its transaction id, seen at the tap, give
//! one round trip to the responder.

/// A STUN message's class and transaction: `Some((true, id))` for a
/// request, `Some((false, id))` for a success or error response. The id is
/// the 16 bytes after the length (RFC 5389's cookie and transaction id, or
/// RFC 3489's 128-bit id), so both framings pair the same way.
pub fn stun_transaction(payload: &[u8]) -> Option<(bool, [u8; 16])> {
    let head = payload.get(..20)?;
    let (&t0, &t1) = (head.first()?, head.get(1)?);
    let len = usize::from(u16::from_be_bytes([*head.get(2)?, *head.get(3)?]));
    if t0 & 0xc0 != 0 || len % 4 != 0 || len + 20 != payload.len() {
        return None;
    }
    let class = ((t0 & 0x01) << 1) | ((t1 >> 4) & 0x01);
    let id: [u8; 16] = head.get(4..20)?.try_into().ok()?;
    match class {
        0 => Some((true, id)),
        2 | 3 => Some((false, id)),
        _ => None,
    }
}

/// Requests kept waiting; older ones are forgotten.
const PENDING: usize = 16;
/// Round trips kept per record.
const SAMPLES: usize = 64;

/// STUN requests waiting for their response, and the round trips seen.
#[derive(Debug, Default)]
pub(super) struct StunRtt {
    // (transaction id, request time µs, direction index of the request).
    pending: Vec<([u8; 16], i64, usize)>,
    rtts: Vec<i64>,
}

impl StunRtt {
    /// Accounts one STUN message of direction `side` (0 = src2dst):
    /// `(request, id)` as [`stun_transaction`] reads it.
    pub(super) fn feed(&mut self, ts: i64, side: usize, (request, id): (bool, [u8; 16])) {
        if request {
            if self.pending.len() >= PENDING {
                self.pending.remove(0);
            }
            self.pending.push((id, ts, side));
        } else if let Some(at) = self
            .pending
            .iter()
            .position(|(x, _, s)| *x == id && *s != side)
        {
            let (_, t0, s) = self.pending.swap_remove(at);
            // Only the initiator's requests: their round trip is to the responder.
            if s == 0 && self.rtts.len() < SAMPLES {
                self.rtts.push(ts - t0);
            }
        }
    }

    /// The median round trip, µs (the lower one of an even count).
    pub(super) fn median(&self) -> Option<i64> {
        let mut v = self.rtts.clone();
        v.sort_unstable();
        v.get(v.len().checked_sub(1)? / 2).copied()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn stun_classes() {
        let mut m = vec![0u8; 28];
        m[1] = 0x01; // Binding request
        m[3] = 8;
        m[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        m[19] = 7;
        let (req, id) = stun_transaction(&m).unwrap();
        assert!(req && id[15] == 7);
        m[1] = 0x01;
        m[0] = 0x01; // success response 0x0101
        assert_eq!(stun_transaction(&m), Some((false, id)));
        m[1] = 0x11; // indication 0x0111? class bits 01+1 = 3: error
        assert_eq!(stun_transaction(&m).map(|x| x.0), Some(false));
        m[0] = 0;
        m[1] = 0x11; // indication
        assert_eq!(stun_transaction(&m), None);
        assert_eq!(stun_transaction(&m[..27]), None, "length mismatch");
        m[0] = 0x80;
        assert_eq!(stun_transaction(&m), None, "RTP");
    }

    #[test]
    fn only_the_initiators_answered_requests_count() {
        let mut s = StunRtt::default();
        assert_eq!(s.median(), None);
        s.feed(0, 0, (true, [1; 16]));
        s.feed(10, 0, (false, [1; 16])); // same side: not the answer
        s.feed(30, 1, (false, [1; 16]));
        s.feed(40, 1, (true, [2; 16])); // the responder's request
        s.feed(45, 0, (false, [2; 16]));
        s.feed(50, 0, (true, [3; 16]));
        s.feed(60, 1, (false, [3; 16]));
        s.feed(70, 0, (true, [4; 16]));
        s.feed(150, 1, (false, [4; 16]));
        assert_eq!(s.rtts, [30, 10, 80]);
        assert_eq!(s.median(), Some(30));
        // A response whose request was forgotten pairs with nothing.
        for i in 0..=PENDING as u8 {
            s.feed(200, 0, (true, [10 + i; 16]));
        }
        s.feed(300, 1, (false, [10; 16]));
        assert_eq!(s.rtts.len(), 3);
        s.feed(300, 1, (false, [11; 16]));
        assert_eq!(s.rtts.len(), 4);
    }
}
