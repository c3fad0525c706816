//! The flows table: one row per flow record. Its columns are declared here,
//! once, in file order: export/SCHEMA.md ("Why these types", "Columns"), the classification
//! columns of section 3, then the egress block and the media columns.
//!
//! The Arrow schema, the batch builders and the column table of
//! `export/SCHEMA.md` all come from [`FLOW_COLUMNS`]. Why these types (signed
//! integers, µs UTC timestamps, dictionary strings, null for "not applicable"
//! in every type) is argued in `export/SCHEMA.md`.

use crate::column::{i64c, schema_of, Batch, Column, Row, Value::*, CHUNK_ROWS};
use crate::options::WriterOptions;
use crate::record::{ConnState, FlowRecord};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use pathlens_classify::egress::{Egress, ExpectedPath};
use pathlens_classify::media::Quality;
use pathlens_classify::{AppProtocol, ServiceSource};
use std::sync::OnceLock;

type C = Column<FlowRecord>;

/// Every column of the flows table, in file order.
pub static FLOW_COLUMNS: &[Column<FlowRecord>] = &[
    C::new("flow_id", I64(|r| r.flow_id), "unique within the run: the index of the record's first packet in the run's input, so it is the same whatever the number of workers")
        .like("uid", "id", "flowId (148)"),
    C::new("run_id", Setting(|o| &o.run_id), "UUID of the pathlens process run"),
    C::new("sensor", Setting(|o| &o.sensor), "`--sensor`, default the host name")
        .like("", "", "observationDomainId (149)"),
    C::new("interface", Dict(|r| &r.interface), "the input file as given (`-` for stdin); for `live`, the interface names joined by commas")
        .like("", "", "interfaceName (82)"),
    C::new("community_id", Str(|r| &r.community_id), "Community ID v1, seed 0")
        .like("community_id", "", ""),
    C::new("first_seen", Time(|r| r.first_seen_us), "first packet of this record")
        .like("ts", "bidirectional_first_seen_ms", "flowStartMicroseconds (154)"),
    C::new("last_seen", Time(|r| r.last_seen_us), "last packet of this record")
        .like("ts + duration", "bidirectional_last_seen_ms", "flowEndMicroseconds (155)"),
    C::new("duration_s", F64(|r| (r.last_seen_us - r.first_seen_us) as f64 / 1e6), "`last_seen - first_seen`, seconds")
        .like("duration", "", "flowDurationMilliseconds (161)"),
    C::new("end_reason", Label(|r| r.end_reason.as_str()), "`idle_timeout` (no packet for `--idle-timeout`), `active_timeout` (record reached `--active-timeout`; the flow goes on in a new row with the same `community_id`), `end_of_flow` (TCP FIN both ways or RST, then 5 s of linger for the last ACKs; a new SYN starts a new record at once), `forced_end` (end of the input file while still open), `lack_of_resources` (evicted past `--max-flows`)")
        .like("", "expiration_id", "flowEndReason (136)"),
    C::new("ip_version", I8(|r| i8::try_from(r.ip_version).unwrap_or(0)), "4 or 6")
        .like("", "ip_version", "ipVersion (60)"),
    C::new("ip_proto", I16(|r| i16::from(r.ip_proto)), "IANA protocol number")
        .like("", "protocol", "protocolIdentifier (4)"),
    C::new("transport", Label(|r| r.transport.as_str()), "`tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `other`")
        .like("proto", "", ""),
    C::new("src_ip", Ip(|r| r.src_ip), "initiator address: dotted quad, RFC 5952 for IPv6")
        .like("id.orig_h", "src_ip", "sourceIPv4Address (8), sourceIPv6Address (27)"),
    C::new("dst_ip", Ip(|r| r.dst_ip), "responder address: dotted quad, RFC 5952 for IPv6")
        .like("id.resp_h", "dst_ip", "destinationIPv4Address (12), destinationIPv6Address (28)"),
    C::new("src_port", I32(|r| i32::from(r.src_port)), "initiator port; 0 when the protocol has no ports (ICMP too)")
        .like("id.orig_p", "src_port", "sourceTransportPort (7)"),
    C::new("dst_port", I32(|r| i32::from(r.dst_port)), "responder port; 0 when the protocol has no ports (ICMP too)")
        .like("id.resp_p", "dst_port", "destinationTransportPort (11)"),
    C::new("icmp_type", OptI16(|r| r.icmp_type), "type of the record's first ICMP packet; null for other protocols")
        .like("", "", "icmpTypeCodeIPv4 (32)"),
    C::new("icmp_code", OptI16(|r| r.icmp_code), "code of the record's first ICMP packet; null for other protocols")
        .like("", "", "icmpTypeCodeIPv4 (32)"),
    C::new("vlan_id", I32(|r| i32::from(r.vlan_id)), "outer 802.1Q/802.1ad VLAN of the record's first packet, 0 if untagged; not part of the flow key, so a flow whose directions cross different VLANs stays one flow (see `src2dst_next_hop`)")
        .like("vlan", "vlan_id", "vlanId (58)"),
    C::new("encapsulation", OptStr(|r| r.encapsulation.as_deref()), "the tunnels the record's first packet came out of, outermost first, joined by `+`: `gre`, `gre_udp`, `erspan1`, `erspan2`, `erspan3`, `vxlan`, `geneve`, `gtpu`, `teredo`, `ayiya` (`erspan2+vxlan`: VXLAN mirrored by ERSPAN); null when not tunnelled. Every other column describes the innermost packet"),
    C::new("tunnel_id", OptI64(|r| r.tunnel_id.map(i64::from)), "id of the outermost tunnel: ERSPAN session id, VXLAN or GENEVE VNI, GRE key, GTP-U TEID of the record's first packet; null when the tunnel has none. VNIs and ERSPAN sessions are part of the flow key (the same 5-tuple in two VNIs is two flows); GRE keys and TEIDs are not (GTP allocates one TEID per direction)"),
    C::new("src2dst_packets", I64(|r| i64c(r.src2dst_packets)), "packets initiator to responder, IP fragments included")
        .like("orig_pkts", "src2dst_packets", "initiatorPackets (298)"),
    C::new("dst2src_packets", I64(|r| i64c(r.dst2src_packets)), "packets responder to initiator, IP fragments included")
        .like("resp_pkts", "dst2src_packets", "responderPackets (299)"),
    C::new("src2dst_bytes", I64(|r| i64c(r.src2dst_bytes)), "IP bytes (header + payload) initiator to responder, from the IP length field, not the captured length")
        .like("orig_ip_bytes", "src2dst_bytes (accounting_mode=1)", "initiatorOctets (231)"),
    C::new("dst2src_bytes", I64(|r| i64c(r.dst2src_bytes)), "IP bytes (header + payload) responder to initiator, from the IP length field, not the captured length")
        .like("resp_ip_bytes", "dst2src_bytes (accounting_mode=1)", "responderOctets (232)"),
    C::new("src2dst_payload_bytes", I64(|r| i64c(r.src2dst_payload_bytes)), "transport payload bytes initiator to responder, from the headers")
        .like("≈ orig_bytes", "accounting_mode=3", ""),
    C::new("dst2src_payload_bytes", I64(|r| i64c(r.dst2src_payload_bytes)), "transport payload bytes responder to initiator, from the headers")
        .like("≈ resp_bytes", "accounting_mode=3", ""),
    C::new("bidirectional_packets", I64(|r| i64c(r.packets())), "packets both ways")
        .like("", "bidirectional_packets", "packetTotalCount (86)"),
    C::new("bidirectional_bytes", I64(|r| i64c(r.bytes())), "IP bytes both ways")
        .like("", "bidirectional_bytes", "octetTotalCount (85)"),
    C::new("truncated_packets", I64(|r| i64c(r.truncated_packets)), "packets whose captured length is below the wire length (snap length)"),
    C::new("src2dst_tcp_flags", I16(|r| i16::try_from(r.src2dst_tcp_flags).unwrap_or(i16::MAX)), "OR of the TCP flags seen initiator to responder (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128, NS 256)")
        .like("history", "", "tcpControlBits (6)"),
    C::new("dst2src_tcp_flags", I16(|r| i16::try_from(r.dst2src_tcp_flags).unwrap_or(i16::MAX)), "OR of the TCP flags seen responder to initiator")
        .like("history", "", "tcpControlBits (6)"),
    C::new("conn_state", OptLabel(|r| r.conn_state.map(ConnState::as_str)), "Zeek's codes for TCP: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH; null for other transports")
        .like("conn_state", "", ""),
    // The value list comes from the vocabulary (`classify/src/vocab.rs`).
    C::new("app_protocol", Label(|r| r.labels.app_protocol.as_str()), AppProtocol::VALUES_DOC)
        .like("service", "application_name", "applicationName (96)"),
    C::new("app_protocol_source", Label(|r| r.labels.app_protocol_source.as_str()), "how `app_protocol` was decided: `payload` (a dissector recognised it, or inspected payload matched none of the classes: `other`), `port` (no payload at all: the rule of `signatures/ports.toml` for the server's port, never a client's; media port ranges only towards a known media server), `behaviour` (media cadence over TCP), `correlation` (a UDP flow with no evidence of its own reaching a media endpoint that another flow announced in SDP or STUN), `none`")
        .like("", "application_is_guessed", ""),
    C::new("server_name", OptStr(|r| r.labels.protocol.server_name.as_deref()), "TLS SNI, SIP Request-URI host, HTTP Host, SMTP EHLO/HELO name")
        .like("(ssl.log server_name)", "requested_server_name", ""),
    C::new("local_src", Bool(|r| r.labels.local_src), "initiator inside the local networks (RFC 1918, RFC 4193 ULA, loopback, link-local, multicast, broadcast, plus the site's own from `--local` or the config)")
        .like("local_orig", "", ""),
    C::new("local_dst", Bool(|r| r.labels.local_dst), "responder inside the local networks, as `local_src`")
        .like("local_resp", "", ""),
    C::new("direction", Label(|r| r.labels.direction.as_str()), "`outbound` (local to remote), `inbound`, `internal` (both local), `external` (neither)")
        .like("", "", "biflowDirection (239), loosely"),
    C::new("egress_label", OptDict(|r| r.labels.egress_label.as_deref()), "label of the prefix in `egress_prefix`: the local network's label (e.g. `rfc1918`) for local flows, else the CIDR list's label, the service tag name or the O365 service area"),
    C::new("egress_prefix", OptStr(|r| r.labels.egress_prefix.as_deref()), "for the remote endpoint (the non-local one; the responder when both or neither are local): the longest advertised prefix containing it when `egress` is `expressroute`, else its longest match in any source, e.g. `52.112.0.0/14`; for local flows the local network, e.g. `10.0.0.0/8`"),
    C::new("traffic_type", Label(|r| r.labels.traffic_type.as_str()), "the seeds' categories: `signaling`, `media`, `web_conferencing`, `mail`, `web`, `infrastructure`, `tunnel` (IPsec, IKE, SSL VPN), `other`; HTTPS/TLS/HTTP to a SfB/Teams service (by server name or Office 365 endpoint set) is `signaling` and to Exchange `mail`, as the seeds count that control traffic"),
    C::new("alpn", OptStr(|r| r.labels.protocol.alpn.as_deref()), "first ALPN id of the ClientHello (`h2`, `http/1.1`)")
        .like("(ssl.log next_protocol)", "", ""),
    C::new("tls_version", OptLabel(|r| r.labels.protocol.tls_version), "`TLS 1.0` ... `TLS 1.3`: highest offered in supported_versions or chosen by the ServerHello")
        .like("(ssl.log version)", "", ""),
    C::new("sip_method", OptLabel(|r| r.labels.protocol.sip_method), "first SIP request method (`INVITE`, `REGISTER`, SfB's `SERVICE`, ...)")
        .like("(sip.log method)", "", ""),
    C::new("sip_user_agent", OptStr(|r| r.labels.protocol.sip_user_agent.as_deref()), "SIP User-Agent or Server header (first 128 bytes)")
        .like("(sip.log user_agent)", "", ""),
    C::new("starttls", Bool(|r| r.labels.protocol.starttls), "a mail or XMPP session upgraded to TLS with STARTTLS/STLS"),
    C::new("stun_seen", Bool(|r| r.labels.protocol.stun_seen), "STUN/TURN messages were seen on the flow (ICE flows that then carry media)"),
    C::new("media_over_tcp", Bool(|r| r.labels.protocol.media_over_tcp), "a TCP flow to a media port (443, 3478-3481, 50000-59999) with media cadence: 50+ packets each way, mean payload at most 400 bytes, 20-200 packets/s over 2 s or more"),
    C::new("service", OptDict(|r| r.labels.service.as_deref()), "`skype_teams`, `exchange`, `sharepoint`, `common`, only from evidence that names the service (see `service_source`): the server name (`signatures/sni.toml`), the remote address's Office 365 endpoint set, Microsoft's protocol markers, a configured on-premises server, a learned media endpoint; `common` yields to a specific service. Never from a port"),
    // The egress block (export/SCHEMA.md, "Media columns"): every column but `egress` is nullable.
    C::new("egress", Label(|r| r.labels.egress.egress.as_str()), "`local` (both ends local), `expressroute` (the remote end is inside a prefix advertised over ExpressRoute), `internet` (the remote end is public and not), `unknown` (otherwise: a non-public remote such as 100.64.0.0/10 or 2001:db8::/32)"),
    C::new("egress_list", OptDict(|r| r.labels.egress.egress_list.as_deref()), "the prefix source behind `egress_prefix`: `o365` (the `--o365` list), the NAME of a `--prefixes`/`--expressroute-prefixes` list, `service_tags`, or `local`"),
    C::new("o365_endpoint_id", OptI32(|r| r.labels.egress.o365_endpoint_id), "id of the Office 365 endpoint set containing the remote address (highest category when several do: Optimize > Allow > Default)"),
    C::new("o365_service_area", OptDict(|r| r.labels.egress.o365_service_area.as_deref()), "its `serviceArea`: `Common`, `Exchange`, `SharePoint`, `Skype`"),
    C::new("o365_category", OptLabel(|r| r.labels.egress.o365_category), "its `category`: `Optimize`, `Allow`, `Default`"),
    C::new("o365_expressroute", OptBool(|r| r.labels.egress.o365_expressroute), "its `expressRoute` flag (the set is ExpressRoute-capable; whether the site's circuit receives it is `egress`)"),
    C::new("src2dst_next_hop", OptDict(|r| r.labels.egress.src2dst_next_hop.as_deref()), "next hop the initiator's packets were seen through, for flows between a local and a public address: the destination MAC of packets going out, the source MAC of packets coming in, with their VLAN (`02:e0:00:00:00:01`, `02:e0:00:00:00:01 vlan 101`); the record's first one that way; null otherwise"),
    C::new("dst2src_next_hop", OptDict(|r| r.labels.egress.dst2src_next_hop.as_deref()), "the same for the responder's packets"),
    C::new("asymmetric", OptBool(|r| r.labels.egress.asymmetric), "set when both directions crossed an edge (configured or learned): true when not the same one (another MAC or VLAN), false when the same; null otherwise (a direction with no edge evidence, e.g. a one-way flow)"),
    C::new("expected_path", OptLabel(|r| r.labels.egress.expected_path.map(ExpectedPath::as_str)), "the path the call-flow principles predict (`local`, `expressroute`, `internet`, `internet_or_expressroute`) from `signatures/callflow.toml`, the deployment profile, the traffic type (media; signaling and web conferencing) and the roles of both ends (client, on-premises roles from the site config, Office 365 ExpressRoute-capable or not, Internet); `internet` for an Internet-only service (CRL/OCSP, DNS, telemetry, Skype consumer federation, broadcast CDN) leaving the site, and for an ExpressRoute-capable set the site's route filter (or the absence of a circuit) keeps off ExpressRoute; null when no rule applies"),
    C::new("path_conformant", OptBool(|r| r.labels.egress.path_conformant), "every observed path (the known paths of the edges crossed; `local` when both ends are local) is allowed by `expected_path`; null when there is no expectation or no observed evidence (a prefix alone predicts, it does not observe)"),
    C::new("path_note", OptStr(|r| r.labels.egress.path_note.as_deref()), "where the expectation came from and why the path does not conform: `media client-o365_er expected expressroute (<scenario rows of docs/call-flows.md §5.2>)`, `... expected internet, not expressroute: set 1 (Exchange) not in the route filter (...)`, `internet-only DNS expected internet (internet_only_traffic)`, then `, observed internet at the edge` when not conformant; other path findings: an edge contradicting the prefix-predicted egress, an edge of unknown path with its shares, a direction whose edge changed within the record; round trips over Microsoft's targets (Office 365 remote ends: 60 ms edge to Microsoft for `server_rtt_ms`, `stun_rtt_ms`; 100 ms client to Microsoft for the whole handshake and `rtcp_rtt_ms`); media not marked EF 46 (audio) / AF41 34 (video) / AF21 18 (sharing), re-marked to 0 on the return path, or whose DSCP changed; media cadence inside a VPN tunnel"),
    // The media columns (export/SCHEMA.md, "Media columns"): null on non-media flows, never a sentinel.
    C::new("rtp_ssrc_count", OptI32(|r| r.labels.media.rtp_ssrc_count), "streams (direction and SSRC) with RTP packets; null for a non-media flow"),
    C::new("rtp_payload_type", OptI16(|r| r.labels.media.rtp_payload_type), "payload type of the flow's largest stream; null without RTP"),
    C::new("codec", OptDict(|r| r.labels.media.codec.as_deref()), "encoding name of that payload type: the RFC 3551 static table's (`PCMU`, `PCMA`, `G722`, `G729`, ...) or, for a dynamic type, the `a=rtpmap` name of the call's SDP as written (`SILK`, `opus`, ...); null for a dynamic type no SDP seen bound"),
    C::new("src2dst_rtp_packets_lost", OptI64(|r| r.labels.media.src2dst.map(|d| d.packets_lost)), "main stream initiator to responder: RFC 3550 A.3 expected minus received (duplicates count as received), clamped at 0; null when that direction has no RTP stream (every direction-media column below too)"),
    C::new("src2dst_rtp_loss_pct", OptF64(|r| r.labels.media.src2dst.map(|d| d.loss_pct)), "the same as a percentage (0-100) of expected"),
    C::new("src2dst_jitter_mean_ms", OptF64(|r| r.labels.media.src2dst.and_then(|d| d.jitter_mean_ms)), "RFC 3550 §6.4.1 running jitter, averaged over regular packets as tshark does (no marker, no comfort noise, timestamp not stepping back); null when the clock rate is unknown"),
    C::new("src2dst_jitter_max_ms", OptF64(|r| r.labels.media.src2dst.and_then(|d| d.jitter_max_ms)), "largest running jitter over regular packets"),
    C::new("src2dst_rtp_reordered", OptI64(|r| r.labels.media.src2dst.map(|d| d.reordered)), "packets older than the newest seen that were not duplicates"),
    C::new("src2dst_rtp_duplicates", OptI64(|r| r.labels.media.src2dst.map(|d| d.duplicates)), "packets whose sequence number was already seen in the last 128"),
    C::new("dst2src_rtp_packets_lost", OptI64(|r| r.labels.media.dst2src.map(|d| d.packets_lost)), "as `src2dst_rtp_packets_lost`, main stream responder to initiator"),
    C::new("dst2src_rtp_loss_pct", OptF64(|r| r.labels.media.dst2src.map(|d| d.loss_pct)), "as `src2dst_rtp_loss_pct`, responder to initiator"),
    C::new("dst2src_jitter_mean_ms", OptF64(|r| r.labels.media.dst2src.and_then(|d| d.jitter_mean_ms)), "as `src2dst_jitter_mean_ms`, responder to initiator"),
    C::new("dst2src_jitter_max_ms", OptF64(|r| r.labels.media.dst2src.and_then(|d| d.jitter_max_ms)), "as `src2dst_jitter_max_ms`, responder to initiator"),
    C::new("dst2src_rtp_reordered", OptI64(|r| r.labels.media.dst2src.map(|d| d.reordered)), "as `src2dst_rtp_reordered`, responder to initiator"),
    C::new("dst2src_rtp_duplicates", OptI64(|r| r.labels.media.dst2src.map(|d| d.duplicates)), "as `src2dst_rtp_duplicates`, responder to initiator"),
    C::new("rtcp_rtt_ms", OptF64(|r| r.labels.media.rtcp_rtt_ms), "round trip at the tap from an SR and the later report block echoing it (A - LSR - DLSR with the tap's clock), mean over the flow's streams"),
    C::new("rtcp_fraction_lost", OptF64(|r| r.labels.media.rtcp_fraction_lost), "mean over the flow's streams of the latest report block's fraction lost, a 0-1 fraction as RFC 3550 carries it (not a percentage: ×100 to compare with `*_loss_pct`)"),
    C::new("media_quality", OptLabel(|r| r.labels.media.media_quality.map(Quality::as_str)), "`good` / `poor` against `signatures/media.toml` (Microsoft's client-to-edge targets and CQD's poor audio rules, docs/call-flows.md §3.5); null when no stream has 50 packets"),
    C::new("rtp_overflow_packets", OptI64(|r| r.labels.media.rtp_overflow_packets), "RTP packets of SSRCs beyond the 16 streams a flow keeps (hostile or churning SSRCs); null for a non-media flow"),
    C::new("service_source", OptLabel(|r| r.labels.service_source.map(ServiceSource::as_str)), "what named `service`: `sni` (a server-name rule), `o365` (the remote address's Office 365 endpoint set), `protocol` (MS-TURN/MS-ICE attributes, a Lync/Skype for Business SIP agent or `ms-` header, an Exchange mail greeting), `config` (a configured on-premises server), `correlation` (a media endpoint learned from a flow with such evidence); null when no service. A port is never evidence of a service"),
    // Path seen on the wire (docs/call-flows.md §4.5, §4.6) and latency and marking (§3.4, §3.5).
    C::new("src2dst_edge", OptDict(|r| r.labels.egress.src2dst_edge.as_deref()), "edge the initiator's packets crossed: the configured `[[edge]]` matched (configured edges always win), else the edge learned from the wire for its next hop, `edge-<mac>` (`edge-<mac>.<vlan>` when tagged, `edge-vlan<vlan>` without a MAC); learned only for flows between a local and a public address; null when none")
        .like("", "", "ingressInterface (10) / egressInterface (14), loosely"),
    C::new("dst2src_edge", OptDict(|r| r.labels.egress.dst2src_edge.as_deref()), "the same for the responder's packets"),
    C::new("observed_egress", OptLabel(|r| r.labels.egress.observed_egress.map(Egress::as_str)), "the path of the edge crossed (`expressroute`, `internet`): the local sender's direction's edge, else the other's; a learned edge's path is inferred from the prefixes its flows reach; `local` when both ends are local; null when no edge of known path was crossed"),
    C::new("server_rtt_ms", OptF64(|r| r.labels.path.server_rtt_ms), "TCP handshake, server side: the latest SYN before the SYN-ACK to the SYN-ACK, at the tap, ms"),
    C::new("client_rtt_ms", OptF64(|r| r.labels.path.client_rtt_ms), "TCP handshake, client side: the latest SYN-ACK to the initiator's first ACK after it, ms; `server_rtt_ms + client_rtt_ms` is tshark's `tcp.analysis.initial_rtt`")
        .like("", "", "tcpSynAckTime"),
    C::new("stun_rtt_ms", OptF64(|r| r.labels.path.stun_rtt_ms), "median over the flow's STUN transactions sent by the initiator of request to response time (paired by transaction id), ms"),
    C::new("src2dst_dscp", OptI16(|r| r.labels.path.marking[0].map(|m| i16::from(m.dscp))), "DSCP most of the initiator's packets carried (majority vote); null without packets")
        .like("", "", "ipDiffServCodePoint (195)"),
    C::new("dst2src_dscp", OptI16(|r| r.labels.path.marking[1].map(|m| i16::from(m.dscp))), "the same for the responder's packets"),
    C::new("src2dst_dscp_changed", OptBool(|r| r.labels.path.marking[0].map(|m| m.changed)), "an initiator packet carried another DSCP than the first one"),
    C::new("dst2src_dscp_changed", OptBool(|r| r.labels.path.marking[1].map(|m| m.changed)), "the same for the responder's packets"),
    C::new("tunnel_media_suspected", OptBool(|r| r.labels.tunnel_media_suspected), "a tunnel (`traffic_type` `tunnel`) with media cadence: both directions 100+ packets of at most 400 IP bytes, at least 80% of the direction's packets, with 60% of the gaps between them in two adjacent buckets of 10-70 ms (`path_note` says so); false for other tunnels, null for flows that are no tunnel"),
    // The CQD building file (`--buildings`): the local end's building.
    C::new("building", OptDict(|r| r.labels.buildings.local.as_ref().map(|b| &*b.name)), "BuildingName of the building file's row for the local end (the initiator when it is local, else the responder): the longest subnet containing it; null without a building file or when no row covers it"),
    C::new("network_name", OptDict(|r| r.labels.buildings.local.as_ref().map(|b| &*b.network_name)), "NetworkName of that row"),
    C::new("subnet", OptDict(|r| r.labels.buildings.local.as_ref().map(|b| &*b.subnet)), "NetworkIP/NetworkRange of that row, e.g. `10.1.0.0/24`"),
    C::new("region", OptDict(|r| r.labels.buildings.local.as_ref().map(|b| &*b.region)), "Region of that row"),
    C::new("inside_corp", OptBool(|r| r.labels.buildings.local.as_ref().map(|b| b.inside_corp)), "InsideCorp of that row"),
    C::new("vpn", OptBool(|r| r.labels.buildings.local.as_ref().map(|b| b.vpn)), "VPN of that row: the local end is in a VPN address pool"),
    C::new("building_expressroute", OptBool(|r| r.labels.buildings.local.as_ref().map(|b| b.expressroute)), "ExpressRoute of that row: the building's subnets have the circuit, so its Office 365 traffic is predicted and expected over ExpressRoute (where the route filter allows the set), over the Internet when 0"),
    C::new("peer_building", OptDict(|r| r.labels.buildings.peer.as_ref().map(|b| &*b.name)), "for a flow between two local ends, the responder's BuildingName; null otherwise"),
    C::new("peer_subnet", OptDict(|r| r.labels.buildings.peer.as_ref().map(|b| &*b.subnet)), "the responder's subnet, as `subnet`"),
    C::new("call_id", OptI64(|r| r.labels.call_id), "the call the flow belongs to (`call_id` of the calls table: the smallest `flow_id` of its flows); null for a flow of no call, and always null from `live`, which writes a flow before its call ends (join through the calls table's `flow_ids` there)"),
];

impl Row for FlowRecord {
    fn columns() -> &'static [Column<FlowRecord>] {
        FLOW_COLUMNS
    }
}

/// The flows table schema, built once.
pub fn flow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(FLOW_COLUMNS)).clone()
}

/// Builds one Arrow batch from flow records (also used by benches).
///
/// # Errors
/// Only if the columns disagree with the schema, which tests rule out.
pub fn records_to_batch(
    records: &[FlowRecord],
    opts: &WriterOptions,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut b = Batch::<FlowRecord>::default();
    for chunk in records.chunks(CHUNK_ROWS) {
        b.append_rows(&chunk.iter().collect::<Vec<_>>(), opts);
    }
    b.finish()
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::options::Compression;
    use arrow::array::{Array, AsArray};
    use std::sync::Arc;

    fn opts() -> WriterOptions {
        WriterOptions {
            compression: Compression::Zstd,
            run_id: "run-1".into(),
            sensor: "s1".into(),
            store: None,
        }
    }

    #[test]
    fn batch_matches_schema_with_nulls() {
        let mut r = FlowRecord::example();
        r.conn_state = None;
        r.labels.protocol.server_name = Some("teams.microsoft.com".into());
        let b = records_to_batch(&[r, FlowRecord::example()], &opts()).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column_by_name("conn_state").unwrap().null_count(), 1);
        assert_eq!(b.schema(), flow_schema());
    }

    #[test]
    fn egress_block_follows_service_and_round_trips() {
        use pathlens_classify::egress::{Egress, ExpectedPath};
        let schema = flow_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let at = names.iter().position(|n| *n == "service").unwrap();
        // The egress block comes first; the media columns follow it.
        assert_eq!(
            &names[at + 1..at + 13],
            &[
                "egress",
                "egress_list",
                "o365_endpoint_id",
                "o365_service_area",
                "o365_category",
                "o365_expressroute",
                "src2dst_next_hop",
                "dst2src_next_hop",
                "asymmetric",
                "expected_path",
                "path_conformant",
                "path_note"
            ]
        );
        let mut r = FlowRecord::example();
        r.labels.egress.egress = Egress::ExpressRoute;
        r.labels.egress.o365_endpoint_id = Some(11);
        r.labels.egress.o365_category = Some("Optimize");
        r.labels.egress.src2dst_next_hop = Some(Arc::from("er-1"));
        r.labels.egress.expected_path = Some(ExpectedPath::ExpressRoute);
        r.labels.egress.path_conformant = Some(true);
        let b = records_to_batch(&[r, FlowRecord::example()], &opts()).unwrap();
        let ids = b
            .column_by_name("o365_endpoint_id")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!((ids.value(0), ids.null_count()), (11, 1));
        assert_eq!(b.column_by_name("egress").unwrap().null_count(), 0);
        assert_eq!(b.column_by_name("path_conformant").unwrap().null_count(), 1);
        assert_eq!(b.column_by_name("path_note").unwrap().null_count(), 2);
    }
}
