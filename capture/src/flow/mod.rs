//! The flow table one worker owns: bidirectional flows keyed by [`FlowKey`],
//! kept in least-recently-seen order so the longest-idle flow is evicted in
//! O(1) when the table is full.
//!
//! Every decision is a function of packet times only (idle, active and
//! TCP-close deadlines), never of when a sweep happens to run, so the rows
//! are the same whatever the number of workers and however ticks fall.
//! A record cut by the active timeout leaves an empty "continuation" entry
//! that keeps the flow's orientation and classification for the next row.
//!
//! The table keeps counters, timeouts and eviction only: what a flow's
//! payloads show (its class, streams, round trips, and which other flow a
//! packet also feeds) is its `classify::FlowEvidence`'s to learn, and its
//! labels are `classify::outcome`'s to decide.

mod hold;
mod record;
mod state;
mod table;
#[cfg(test)]
mod tests;

pub use pathlens_classify::outcome::Knowledge;
pub use table::FlowTable;

use pathlens_classify::FlowKey;

/// Timeouts and limits, in microseconds of packet time.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// A flow with no packet for this long ends (`idle_timeout`).
    pub idle_us: i64,
    /// A record this long is cut; the flow continues in a new row.
    pub active_us: i64,
    /// After FIN both ways or RST, packets this close still join the record.
    pub close_linger_us: i64,
    /// Live flows this table may hold before evicting the longest-idle.
    pub capacity: usize,
    /// How often (packet time) to scan the whole table for active and close deadlines.
    pub scan_every_us: i64,
    /// Inspect payloads (false: port rules only, `--classify port`).
    pub inspect_payload: bool,
    /// Track the streams of media flows (false: `--no-media`).
    pub media_metrics: bool,
    /// Packet time from the start of each input during which edges are
    /// learned from the wire (when none is configured).
    pub edge_warmup_us: i64,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_us: 120_000_000,
            active_us: 1_800_000_000,
            close_linger_us: 5_000_000,
            capacity: 4_000_000,
            scan_every_us: 10_000_000,
            inspect_payload: true,
            media_metrics: true,
            edge_warmup_us: 300_000_000,
        }
    }
}

/// One packet as the reader hands it to a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pkt {
    /// Index of the packet in the run's input: the flow id of the record it opens.
    pub seq: u64,
    /// Capture time, µs since the epoch.
    pub ts_us: i64,
    /// Canonical key.
    pub key: FlowKey,
    /// The sender is the key's `lo` endpoint.
    pub from_lo: bool,
    /// 4 or 6.
    pub ip_version: u8,
    /// IP bytes per the header.
    pub ip_len: u32,
    /// Transport payload bytes per the headers.
    pub payload_len: u32,
    /// TCP flags.
    pub tcp_flags: u16,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
    /// Captured length < wire length.
    pub truncated: bool,
    /// Sender port as seen on the wire (for orientation).
    pub sport: u16,
    /// Receiver port as seen on the wire.
    pub dport: u16,
    /// Edge router the packet crossed (index into the site's edges, 0 =
    /// none), resolved by the reader from the MACs or VLAN only when edges
    /// are configured: one byte instead of two MACs in every batch.
    pub edge: u8,
    /// Link-layer addresses and marking, for the path evidence.
    pub l2: L2,
    /// The tunnels the packet came out of, outermost first.
    pub encap: crate::decode::Chain,
    /// The outermost tunnel id.
    pub tunnel_id: Option<u32>,
}

/// What a packet shows of the path it took: its MACs (the next hop is one
/// of them, depending on which end is local, which only the flow knows),
/// VLAN and DSCP. The VLAN stays out of the flow key so a flow whose
/// directions cross different VLANs is one flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L2 {
    /// Source MAC (zero when the link type has none).
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Outer VLAN, 0 if untagged.
    pub vlan: u16,
    /// DSCP.
    pub dscp: u8,
}

impl Pkt {
    /// The flow-table view of a decoded packet: `seq` is its index in the
    /// run's input, `truncated` whether the capture cut it.
    pub fn from_decoded(
        seq: u64,
        ts_us: i64,
        truncated: bool,
        d: &crate::decode::Decoded<'_>,
    ) -> Self {
        let (key, from_lo) = FlowKey::new(d.src, d.sport, d.dst, d.dport, d.proto, 0);
        let key = key.in_tunnel(d.layers.key_id);
        Pkt {
            seq,
            ts_us,
            key,
            from_lo,
            ip_version: d.ip_version,
            ip_len: d.ip_len,
            payload_len: d.payload_len,
            tcp_flags: d.tcp_flags,
            icmp: d.icmp,
            truncated,
            sport: d.sport,
            dport: d.dport,
            edge: 0,
            l2: L2 {
                src_mac: d.src_mac.unwrap_or_default(),
                dst_mac: d.dst_mac.unwrap_or_default(),
                vlan: d.vlan,
                dscp: d.dscp,
            },
            encap: d.layers.chain,
            tunnel_id: d.layers.id,
        }
    }
}

// TCP flags.
pub(crate) const SYN: u16 = 0x02;
pub(crate) const FIN: u16 = 0x01;
pub(crate) const RST: u16 = 0x04;
pub(crate) const ACK: u16 = 0x10;

// TCP history bits, per side (shifted by 4 for dst2src).
pub(crate) const H_SYN: u8 = 1; // SYN without ACK
pub(crate) const H_SYNACK: u8 = 2;
pub(crate) const H_FIN: u8 = 4;
pub(crate) const H_RST: u8 = 8;
