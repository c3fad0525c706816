//! DNS header sanity (RFC 1035): a 12-byte header with plausible counts and
//! opcode, then a well-formed first question. Over TCP a 2-byte length
//! prefix comes first.

use super::cursor::Cursor;

/// Whether a payload is a plausible DNS message.
pub fn is_dns(p: &[u8], tcp: bool) -> bool {
    let body = if tcp {
        let mut c = Cursor::new(p);
        match c.u16() {
            Some(n)
                if usize::from(n) + 2 == p.len()
                    || (usize::from(n) + 2 > p.len() && p.len() >= 14) =>
            {
                p.get(2..).unwrap_or(&[])
            }
            _ => return false,
        }
    } else {
        p
    };
    check(body).is_some()
}

/// Whether a UDP payload is exactly one DNS message: a sane header, then
/// every question and resource record it counts (names as labels or
/// compression pointers) ending exactly at the datagram's end. That is
/// evidence enough on any port, where [`is_dns`] alone is only on DNS's own.
pub fn is_dns_exact(p: &[u8]) -> bool {
    if check(p).is_none() {
        return false;
    }
    let mut c = Cursor::new(p);
    let counts = c.skip(4).and_then(|()| {
        let mut n = [0u16; 4];
        for x in &mut n {
            *x = c.u16()?;
        }
        Some(n)
    });
    let Some([qd, an, ns, ar]) = counts else {
        return false;
    };
    let name = |c: &mut Cursor| -> Option<()> {
        // A name ends at its zero label or at a pointer; 128 labels at most.
        for _ in 0..128 {
            let l = c.u8()?;
            match l {
                0 => return Some(()),
                0xc0..=0xff => return c.u8().map(|_| ()),
                1..=63 => c.skip(usize::from(l))?,
                _ => return None,
            }
        }
        None
    };
    let mut records = || -> Option<()> {
        for _ in 0..qd {
            name(&mut c)?;
            c.skip(4)?;
        }
        for _ in 0..u32::from(an) + u32::from(ns) + u32::from(ar) {
            name(&mut c)?;
            c.skip(8)?;
            let rdlen = usize::from(c.u16()?);
            c.skip(rdlen)?;
        }
        Some(())
    };
    records().is_some() && c.remaining() == 0
}

fn check(p: &[u8]) -> Option<()> {
    let mut c = Cursor::new(p);
    let _id = c.u16()?;
    let flags = c.u16()?;
    let qd = c.u16()?;
    let an = c.u16()?;
    let ns = c.u16()?;
    let ar = c.u16()?;
    let opcode = (flags >> 11) & 0x0f;
    let z = flags & 0x0040;
    let rcode = flags & 0x000f;
    if !matches!(opcode, 0 | 2 | 4 | 5)
        || z != 0
        || rcode > 10
        || qd == 0
        || qd > 8
        || an > 256
        || ns > 256
        || ar > 256
    {
        return None;
    }
    // The first question name: labels of 1-63 bytes, at most 255 in all.
    let mut total = 0usize;
    loop {
        let l = c.u8()?;
        if l == 0 {
            break;
        }
        if l >= 0xc0 || l > 63 {
            return None;
        }
        total += usize::from(l) + 1;
        if total > 255 {
            return None;
        }
        c.skip(usize::from(l))?;
    }
    let qtype = c.u16()?;
    let qclass = c.u16()?;
    (qtype != 0 && (qclass & 0x7fff) <= 4 || qclass & 0x7fff == 255).then_some(())
}

#[cfg(test)]
mod test {
    use super::*;

    use crate::dissect::hex;

    #[test]
    fn real_query_and_rejects() {
        // dns.pcap: AAAA query for www.google.com (the packet ends after the question).
        let q = hex("dca28180000100000000000003777777016c06676f6f676c6503636f6d00001c0001");
        assert!(is_dns(&q, false));
        let mut tcp = (q.len() as u16).to_be_bytes().to_vec();
        tcp.extend(&q);
        assert!(is_dns(&tcp, true));
        assert!(!is_dns(&q, true), "no length prefix over TCP");
        for cut in 0..q.len() {
            assert!(!is_dns(&q[..cut], false), "cut {cut}");
        }
        assert!(!is_dns(b"GET / HTTP/1.1\r\n\r\n", false));
        assert!(!is_dns(&[0; 12], false), "no question");
        assert!(is_dns_exact(&q));
        let mut more = q.clone();
        more.push(0);
        assert!(!is_dns_exact(&more), "a byte past the message");
        // The same query answered: one AAAA record, its name a pointer to
        // the question's (offset 12).
        let mut r = q.clone();
        r[7] = 1;
        r.extend(hex("c00c001c000100000e100010"));
        r.extend([
            0x2a, 0, 0x14, 0x50, 0x40, 0x07, 0x08, 0x10, 0, 0, 0, 0, 0, 0, 0x20, 0x04,
        ]);
        assert!(is_dns_exact(&r));
        for cut in 0..r.len() {
            assert!(!is_dns_exact(&r[..cut]), "cut {cut}");
        }
    }
}
