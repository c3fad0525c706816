//! Application payloads built field by field: RTP, STUN, TLS, DNS, SIP with
//! SDP. The bench generator and the tests' capture generators share these
//! builders, so each payload has one spelling. `put_*` functions append to a
//! buffer (the generator reuses one); the others return a new `Vec`.

/// The marker bit of the RTP header's second byte; or it into `pt`.
pub const RTP_MARKER: u8 = 0x80;
/// One 20 ms G.711 µ-law frame of silence: the usual test voice payload.
pub const PCMU_SILENCE_20MS: [u8; 160] = [0xd5; 160];
/// The STUN magic cookie (RFC 5389).
pub const STUN_MAGIC_COOKIE: u32 = 0x2112_a442;
/// Bytes of [`put_padded_client_hello`]'s record.
pub const PADDED_HELLO_LEN: u16 = 517;

fn len16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

fn be16(v: usize) -> [u8; 2] {
    len16(v).to_be_bytes()
}

/// Appends a 12-byte RTP version 2 header (no padding, extension or CSRC);
/// `pt` is the whole second byte: the payload type, with [`RTP_MARKER`] set
/// for a marked packet.
pub fn put_rtp_header(out: &mut Vec<u8>, pt: u8, seq: u16, ts: u32, ssrc: u32) {
    out.extend_from_slice(&[0x80, pt]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
}

/// An RTP packet: the header of [`put_rtp_header`], then `payload`.
pub fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + payload.len());
    put_rtp_header(&mut v, pt, seq, ts, ssrc);
    v.extend_from_slice(payload);
    v
}

/// Appends a 20-byte STUN header: message type, the length of what follows,
/// the magic cookie and the transaction id.
pub fn put_stun_header(out: &mut Vec<u8>, msg_type: u16, len: u16, tid: &[u8; 12]) {
    out.extend_from_slice(&msg_type.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&STUN_MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(tid);
}

/// A STUN message of `msg_type` (0x0001 Binding request, 0x0101 Binding
/// success response) carrying the encoded attributes `attrs`.
pub fn stun(msg_type: u16, tid: &[u8; 12], attrs: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + attrs.len());
    put_stun_header(&mut v, msg_type, len16(attrs.len()), tid);
    v.extend_from_slice(attrs);
    v
}

/// An XOR-MAPPED-ADDRESS attribute for an IPv4 address and port: what a
/// Binding response tells the client its public candidate is.
pub fn xor_mapped_v4(addr: [u8; 4], port: u16) -> [u8; 12] {
    let mut a = [0, 0x20, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0];
    let cookie = STUN_MAGIC_COOKIE.to_be_bytes();
    a[6..8].copy_from_slice(&(port ^ 0x2112).to_be_bytes());
    for (i, (b, m)) in addr.iter().zip(cookie).enumerate() {
        if let Some(x) = a.get_mut(8 + i) {
            *x = b ^ m;
        }
    }
    a
}

/// Appends a TLS server_name extension naming `name`.
fn put_sni_extension(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(&[0x00, 0x00]);
    out.extend_from_slice(&be16(name.len() + 5));
    out.extend_from_slice(&be16(name.len() + 3));
    out.push(0);
    out.extend_from_slice(&be16(name.len()));
    out.extend_from_slice(name);
}

/// A TLS 1.3-style ClientHello record carrying SNI and ALPN; `seed` varies
/// the random.
pub fn client_hello(sni: &str, alpn: &str, seed: u8) -> Vec<u8> {
    let mut ext = Vec::new();
    put_sni_extension(&mut ext, sni.as_bytes());
    let a = alpn.as_bytes();
    ext.extend_from_slice(&[0, 0x10]);
    ext.extend_from_slice(&be16(a.len() + 3));
    ext.extend_from_slice(&be16(a.len() + 1));
    ext.push(u8::try_from(a.len()).unwrap_or(u8::MAX));
    ext.extend_from_slice(a);
    ext.extend_from_slice(&[0, 0x2b, 0, 3, 2, 3, 4]);
    let mut body = vec![3, 3];
    body.extend((0..32).map(|i| seed.wrapping_mul(31).wrapping_add(i)));
    body.extend_from_slice(&[0, 0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
    body.extend_from_slice(&be16(ext.len()));
    body.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&be16(body.len()));
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&be16(hs.len()));
    rec.extend_from_slice(&hs);
    rec
}

/// Appends a TLS 1.2 record holding a ClientHello with SNI (the name cut to
/// 60 bytes), padded as browsers do to a 512-byte handshake:
/// [`PADDED_HELLO_LEN`] bytes in all. The random and session id come from
/// `noise` (64 bytes).
pub fn put_padded_client_hello(out: &mut Vec<u8>, name: &str, noise: &[u8]) {
    let name = name.as_bytes();
    let name = name.get(..60).unwrap_or(name);
    let pad = 381usize.saturating_sub(name.len());
    out.extend_from_slice(&[0x16, 0x03, 0x01, 0x02, 0x00]); // record, 512 bytes
    out.extend_from_slice(&[0x01, 0x00, 0x01, 0xfc]); // ClientHello, 508 bytes
    out.extend_from_slice(&[0x03, 0x03]);
    out.extend_from_slice(noise.get(..32).unwrap_or_default()); // random
    out.push(32);
    out.extend_from_slice(noise.get(32..64).unwrap_or_default()); // session id
    out.extend_from_slice(&[0x00, 0x20]); // 16 cipher suites
    for cs in [
        0x1301u16, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035, 0x00ff,
    ] {
        out.extend_from_slice(&cs.to_be_bytes());
    }
    out.extend_from_slice(&[0x01, 0x00]); // null compression
    out.extend_from_slice(&be16(508 - 105)); // extensions
    put_sni_extension(out, name);
    out.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    out.extend_from_slice(&[0x00, 0x15]); // padding
    out.extend_from_slice(&be16(pad));
    out.resize(out.len() + pad, 0);
}

/// A server's reply to a ClientHello: ServerHello-like handshake bytes.
pub fn server_hello(len: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0x16, 3, 3];
    v.extend_from_slice(&be16(len));
    v.push(2);
    v.extend((1..len).map(|i| (i as u8) ^ seed));
    v
}

/// An opaque TLS application-data record of `len` bytes.
pub fn tls_data(len: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0x17, 3, 3];
    v.extend_from_slice(&be16(len));
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed)));
    v
}

/// Appends a DNS query for `name` (no `answers`) or the response to it, one
/// answer of class IN per rdata in `answers`, each pointing back at the
/// question's name, with `ttl` seconds.
pub fn put_dns_message(
    out: &mut Vec<u8>,
    id: u16,
    name: &str,
    qtype: u16,
    ttl: u32,
    answers: &[&[u8]],
) {
    out.extend_from_slice(&id.to_be_bytes());
    let flags: u16 = if answers.is_empty() { 0x0100 } else { 0x8180 };
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&be16(answers.len()));
    out.extend_from_slice(&[0, 0, 0, 0]);
    for label in name.split('.') {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    for rdata in answers {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&be16(rdata.len()));
        out.extend_from_slice(rdata);
    }
}

/// The message of [`put_dns_message`] as a new `Vec`.
pub fn dns_message(id: u16, name: &str, qtype: u16, ttl: u32, answers: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    put_dns_message(&mut v, id, name, qtype, ttl, answers);
    v
}

/// A minimal SDP body offering one audio stream at `ip:port` over `profile`
/// (`RTP/AVP`, `RTP/SAVP`) with the payload types `fmts` (space-separated)
/// and one `a=rtpmap` line per entry of `rtpmaps` (`"104 SILK/16000"`).
pub fn sdp_audio(ip: &str, port: u16, profile: &str, fmts: &str, rtpmaps: &[&str]) -> String {
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} {profile} {fmts}\r\n"
    );
    for r in rtpmaps {
        s.push_str("a=rtpmap:");
        s.push_str(r);
        s.push_str("\r\n");
    }
    s
}

/// A SIP request or response over UDP (`first_line` without its CRLF, a Via
/// naming `via`, `host:port`) carrying `sdp`.
pub fn sip_with_sdp(first_line: &str, via: &str, sdp: &str) -> String {
    format!("{first_line}\r\nVia: SIP/2.0/UDP {via}\r\nContent-Type: application/sdp\r\n\r\n{sdp}")
}
