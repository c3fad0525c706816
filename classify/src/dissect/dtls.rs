//! DTLS records (RFC 6347, 9147): content type, a 0xFEFF/0xFEFD/0xFEFC
//! version, epoch, 48-bit sequence and a length; one datagram holds whole
//! records whose lengths add up exactly.

use super::cursor::Cursor;

/// What a DTLS datagram starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtlsInfo {
    /// Content type of the first record (22 = handshake).
    pub content_type: u8,
    /// Record version.
    pub version: u16,
    /// Records in the datagram.
    pub records: u8,
}

/// Parses a datagram of DTLS records.
pub fn parse(p: &[u8]) -> Option<DtlsInfo> {
    let mut c = Cursor::new(p);
    let mut info: Option<DtlsInfo> = None;
    while c.remaining() > 0 {
        let ct = c.u8()?;
        let version = c.u16()?;
        // 0x0100 is OpenSSL's pre-RFC DTLS ("DTLS1_BAD_VER"), still seen.
        if !(20..=25).contains(&ct) || !matches!(version, 0xfeff | 0xfefd | 0xfefc | 0x0100) {
            return None;
        }
        c.skip(8)?; // epoch + sequence
        let len = usize::from(c.u16()?);
        c.skip(len)?;
        match info.as_mut() {
            None => {
                info = Some(DtlsInfo {
                    content_type: ct,
                    version,
                    records: 1,
                })
            }
            Some(i) => i.records = i.records.saturating_add(1),
        }
    }
    info
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn real_client_hello_header_and_rejects() {
        // dtls2.pcap: ClientHello record, DTLS 1.0, 0x44 bytes.
        let mut p = vec![0x16, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x44];
        p.extend([1u8; 0x44]);
        assert_eq!(
            parse(&p),
            Some(DtlsInfo {
                content_type: 22,
                version: 0xfeff,
                records: 1
            })
        );
        let mut two = p.clone();
        two.extend(&p);
        assert_eq!(parse(&two).map(|i| i.records), Some(2));
        for cut in 1..p.len() {
            assert!(parse(&p[..cut]).is_none(), "cut {cut}");
        }
        assert!(
            parse(&[0x16, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_none(),
            "TLS version"
        );
        assert!(parse(&[]).is_none());
        // dtls_old_version.pcapng: the pre-standard version 0x0100.
        let mut old = vec![0x16, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x56];
        old.extend([1u8; 0x56]);
        assert_eq!(parse(&old).map(|i| i.version), Some(0x0100));
    }
}
