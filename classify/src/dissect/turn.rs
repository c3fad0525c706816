//! The application data a TURN relay carries (RFC 5766, RFC 8656): the DATA
//! attribute of Send and Data indications, and, over TCP, the STUN and
//! ChannelData messages a segment holds back to back with no other framing
//! (RFC 8656 §12.5: each STUN message ends where its own length says, each
//! ChannelData message after its padding to a multiple of 4).

use super::cursor::Cursor;
use super::stun::{channel_data, MAGIC};

/// Send indication: method Send (0x006), class indication (RFC 8656 §17).
pub const SEND_INDICATION: u16 = 0x0016;
/// Data indication: method Data (0x007), class indication (RFC 8656 §17).
pub const DATA_INDICATION: u16 = 0x0017;
/// The DATA attribute, the datagram a Send or Data indication relays (RFC 8656 §18.4).
pub const DATA_ATTR: u16 = 0x0013;

/// The DATA attribute of a TURN Send or Data indication that fills `p`
/// exactly: the datagram the client sends to its peer or receives from it.
/// Only RFC 5389 messages (magic cookie), as TURN defines them; an empty
/// DATA carries nothing and is None.
pub fn indication_data(p: &[u8]) -> Option<&[u8]> {
    let mut c = Cursor::new(p);
    let msg_type = c.u16()?;
    let len = usize::from(c.u16()?);
    let indication = matches!(msg_type, SEND_INDICATION | DATA_INDICATION);
    if !indication || c.u32()? != MAGIC || len % 4 != 0 || len + 20 != p.len() {
        return None;
    }
    c.skip(12)?;
    while c.remaining() > 0 {
        let t = c.u16()?;
        let l = usize::from(c.u16()?);
        let v = c.bytes(l)?;
        if t == DATA_ATTR {
            return (!v.is_empty()).then_some(v);
        }
        // Padding is part of the message length, so it is always there.
        c.skip((4 - l % 4) % 4)?;
    }
    None
}

/// The messages of TURN over TCP a segment starts with, in order: for each
/// whole one, `Some(data)` when it relays data (a Send or Data indication's
/// DATA, a ChannelData message's data), `None` for any other STUN message
/// (Allocate, Refresh, ChannelBind...). The walk stops at a message the
/// segment cuts (there is no reassembly) and at anything that is neither an
/// RFC 5389 STUN message nor ChannelData; padding that the segment cuts after
/// the last ChannelData's data is not needed.
pub fn tcp_messages(p: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut rest = p;
    std::iter::from_fn(move || {
        let [b0, _, hi, lo, ..] = rest else {
            return None;
        };
        let n = usize::from(u16::from_be_bytes([*hi, *lo]));
        match b0 {
            0..=0x3f => {
                let cookie = rest.get(4..8)?;
                if cookie != MAGIC.to_be_bytes() || n % 4 != 0 {
                    return None;
                }
                let (msg, after) = rest.split_at_checked(n + 20)?;
                rest = after;
                Some(indication_data(msg))
            }
            0x40..=0x7f => {
                let whole = rest.len().min(4 + n.div_ceil(4) * 4);
                let (msg, after) = rest.split_at_checked(whole)?;
                let data = channel_data(msg, true)?;
                rest = after;
                Some(Some(data))
            }
            _ => None,
        }
    })
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use crate::dissect::hex;

    // Real messages of the corpus. Over UDP: a Data indication relaying 22
    // bytes of SRTCP (DATA padded by 2), stun.pcap #102; a Send indication
    // relaying 50 bytes of SRTCP, #105.
    pub(crate) const UDP_DATA_IND: &str = "001700282112a4426669736d63716575766a72680012000800010e8298b82f430013001680c900010000000180000001842311a3efc3091bde850000";
    pub(crate) const UDP_SEND_IND: &str = "001600442112a4424c7647526f6e6248683034440012000800010e8298b82f430013003280c9000147a40083cf6cb4d49e478e06cf487656911f3849fd2f5e419b08bfcdc465b43280000001a2c0cbf782ad05710e500000";
    // Over TCP 3478, each in its own segment: a Send indication relaying a
    // 42-byte RTCP transport feedback (PT 205), stun_dtls_rtp.pcapng #90,
    // and a Data indication relaying a 285-byte RTP packet (PT 97, SSRC
    // 0x321D28BB, padding and extension bits), #92.
    pub(crate) const TCP_SEND_RTCP: &str = "0016003c2112a442476535736b486f564f522b6800120008000125f92b1fa4700013002aafcd0006fa17fa174bc25e60027877fbf29ab6737146c62851eb111a80000001f66b935c5789d023bfc80000";
    pub(crate) const TCP_DATA_RTP: &str = "001701302112a442acf84ece22e18a3b59d25be400120008000125f92b1fa4700013011db0615e9689ddf0ed321d28bbbede0001310006005ddeb6cb742c9313b3a94899168371d37f2b93dc5a11434f23aa7f5463e8fb72f01a218db194ca5616d0c74560b343c1d3eb150664f6e7fb795727b052be5c6fc179e58597e7880d445e6e09b6df72943ca7232714a3ee9965fd7b097cf07795a1fc7c206303d803552fde166a4a7afc3dd138b79572fab76f9bf11429f274cf2f191464773ca4ccb8da1d12656995bad86a2a6628f00d29546a723f91dad01eddc6f84bf82566d91a3634b8bc174e9936a2b6be500077354428b0e03a6730816c70394b0884904167df03cbcf1a931087a435c1bc0bf6bc9ae884df037820ed411657d273797a802524660b49b0c8df53797d57c48370deaeb56da60f6601a5840af363ddaa189387000000";
    // ChannelData on channel 0x4003 relaying 22 bytes of SRTCP, unpadded as
    // UDP allows (stun.pcap #113).
    pub(crate) const CHANNEL_SRTCP: &str = "4003001680c9000100000001800000031ff01345009e4583923d";
    // A Binding success response (stun_tcp_multiple_msgs_same_pkt.pcap #2).
    pub(crate) const TCP_BINDING: &str = "000300082112a442704b6e453952586746596c590019000411000000";

    #[test]
    fn indications_give_their_data_attribute() {
        let [udp_data, udp_send, tcp_send, tcp_data] =
            [UDP_DATA_IND, UDP_SEND_IND, TCP_SEND_RTCP, TCP_DATA_RTP].map(hex);
        let d = indication_data(&udp_data).unwrap();
        assert_eq!(d.len(), 22, "the attribute's length, not its padding");
        assert_eq!(d[..2], [0x80, 0xc9], "SRTCP receiver report");
        let d = indication_data(&udp_send).unwrap();
        assert_eq!((d.len(), d[0], d[1]), (50, 0x80, 0xc9));
        let d = indication_data(&tcp_send).unwrap();
        assert_eq!((d.len(), d[0], d[1]), (42, 0xaf, 205));
        let d = indication_data(&tcp_data).unwrap();
        assert_eq!(d.len(), 285);
        assert_eq!(
            (d[0], d[1] & 0x7f),
            (0xb0, 97),
            "RTP, padding and extension set"
        );
        assert_eq!(d[8..12], 0x321d_28bb_u32.to_be_bytes(), "tshark's SSRC");
    }

    #[test]
    fn other_messages_and_broken_ones_give_nothing() {
        assert_eq!(
            indication_data(&hex(TCP_BINDING)),
            None,
            "not an indication"
        );
        let mut other = hex(UDP_DATA_IND);
        other[1] = 0x11; // a Binding indication
        assert_eq!(indication_data(&other), None);
        let mut no_cookie = hex(UDP_DATA_IND);
        no_cookie[4] = 0;
        assert_eq!(indication_data(&no_cookie), None, "TURN needs RFC 5389");
        let mut longer = hex(UDP_DATA_IND);
        longer.extend([0; 4]);
        assert_eq!(indication_data(&longer), None, "must fill the datagram");
        // DATA's length running past the message.
        let mut lying = hex(UDP_DATA_IND);
        lying[34..36].copy_from_slice(&[0, 0x40]);
        assert_eq!(indication_data(&lying), None);
        // Without DATA: XOR-PEER-ADDRESS alone.
        let mut bare = hex(UDP_DATA_IND)[..32].to_vec();
        bare[2..4].copy_from_slice(&[0, 12]);
        assert_eq!(indication_data(&bare), None);
        let m = hex(TCP_DATA_RTP);
        for cut in 0..m.len() {
            assert_eq!(indication_data(&m[..cut]), None, "cut {cut}");
        }
    }

    #[test]
    fn tcp_segments_hold_messages_back_to_back() {
        let (send, data) = (hex(TCP_SEND_RTCP), hex(TCP_DATA_RTP));
        // ChannelData over TCP is padded to 4: 4 + 22 + 2.
        let mut channel = hex(CHANNEL_SRTCP);
        channel.extend([0, 0]);
        let mut seg = hex(TCP_BINDING);
        seg.extend(&send);
        seg.extend(&channel);
        seg.extend(&data);
        let got: Vec<Option<usize>> = tcp_messages(&seg).map(|d| d.map(<[u8]>::len)).collect();
        assert_eq!(got, [None, Some(42), Some(22), Some(285)]);
        // A message the segment cuts ends the walk; the whole ones stay.
        for cut in 1..data.len() {
            let n = tcp_messages(&seg[..seg.len() - cut]).count();
            assert_eq!(n, 3, "cut {cut}");
        }
        // The last ChannelData's padding may be in the next segment.
        let mut tail = send.clone();
        tail.extend(&channel[..26]);
        assert_eq!(tcp_messages(&tail).flatten().count(), 2);
        // Anything else stops it: RFC 4571 framing, TLS, text.
        let mut framed = vec![0, 0x3c + 20];
        framed.extend(&send);
        assert_eq!(tcp_messages(&framed).count(), 0);
        assert_eq!(
            tcp_messages(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc").count(),
            0
        );
        assert_eq!(tcp_messages(b"GET / HTTP/1.1\r\n").count(), 0);
        let mut then_junk = send.clone();
        then_junk.extend([0x90, 1, 2, 3]);
        assert_eq!(tcp_messages(&then_junk).count(), 1);
    }
}
