//! The summary of a run or of any set of flows files: flows, packets and
//! bytes by app protocol and transport and by traffic type and egress, the
//! top services and server names, the asymmetric and non-conformant flows
//! with their notes, RTP streams by egress with the percentiles of their
//! worst 15 s window's loss and jitter (Microsoft compares the 90th
//! percentile with its targets) and how many are poor, and the runs'
//! counters.
//!
//! It is aggregated from rows ([`FlowRow`], [`StreamRow`]) whether the rows
//! come from the writer at the end of `read` or from Parquet files read back
//! by `pathlens summary` and `pathlens report`, and printed by one renderer
//! (`render`), so the two print the same figures.

mod figures;
mod inputs;
mod paths;
mod places;
mod read;
mod render;
mod row;
mod segment;
mod tables;

pub(crate) use figures::{sorted, time_text, MediaFigures, PCTS};
pub use inputs::{parse_time, Inputs, ReadError, TimeRange};
pub use paths::{EdgeFigures, Paths};
pub use places::{CallRow, PlaceFigures, Places};
pub use read::summarize;
pub use render::{counter_lines, Format};
pub use row::{Addr, FlowRow, PathRow, StreamRow};
pub use segment::{Pool, PoolPart, SegmentPools};
pub use tables::{text as tables_text, Cell, Column, Table};

use crate::record::FlowRecord;
use crate::StreamRecord;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Flagged flows kept for the listing, largest first.
pub const FLAGGED_KEPT: usize = 25;
/// Rows of the top services, server names and talkers tables.
pub const TOP: usize = 10;

/// Totals for one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Flow records.
    pub flows: u64,
    /// Packets both ways.
    pub packets: u64,
    /// IP bytes both ways.
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, r: &FlowRow<'_>) {
        self.flows += 1;
        self.packets += r.packets;
        self.bytes += r.bytes;
    }
}

/// RTP streams of one egress group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaGroup {
    /// Loss percent of each stream.
    pub loss_pct: Vec<f64>,
    /// Mean jitter (ms) of each stream with a known clock.
    pub jitter_ms: Vec<f64>,
    /// Worst 15 s window loss percent of each stream with a counted window.
    pub loss_window_pct: Vec<f64>,
    /// Largest jitter (ms) in a counted window, of each stream with one and
    /// a known clock.
    pub jitter_window_ms: Vec<f64>,
    /// Streams judged.
    pub judged: u64,
    /// Streams judged poor.
    pub poor: u64,
}

/// The nearest-rank percentile `p` (0-100) of `v`; None when empty.
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s.get(rank.saturating_sub(1)).copied()
}

/// An asymmetric or non-conformant flow, as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Flagged {
    /// `first_seen`, µs since the Unix epoch.
    pub first_seen_us: i64,
    /// Initiator address.
    pub src_ip: String,
    /// Initiator port.
    pub src_port: i32,
    /// `transport`.
    pub transport: String,
    /// `community_id`, to find the flow in a capture.
    pub community_id: Option<String>,
    /// Responder address.
    pub dst_ip: String,
    /// Responder port.
    pub dst_port: i32,
    /// `app_protocol`.
    pub app_protocol: String,
    /// `traffic_type`.
    pub traffic_type: String,
    /// `egress`.
    pub egress: String,
    /// `expected_path`.
    pub expected_path: Option<String>,
    /// Edges of each direction, `src2dst/dst2src`.
    pub next_hops: String,
    /// `asymmetric`.
    pub asymmetric: Option<bool>,
    /// `path_conformant`.
    pub path_conformant: Option<bool>,
    /// `path_note`.
    pub path_note: Option<String>,
    /// Bytes both ways.
    pub bytes: u64,
}

impl Flagged {
    fn of(r: &FlowRow<'_>) -> Self {
        Flagged {
            first_seen_us: r.first_seen_us,
            src_ip: r.src_ip.to_string(),
            src_port: r.src_port,
            transport: r.transport.to_string(),
            community_id: r.community_id.map(str::to_string),
            dst_ip: r.dst_ip.to_string(),
            dst_port: r.dst_port,
            app_protocol: r.app_protocol.to_string(),
            traffic_type: r.traffic_type.to_string(),
            egress: r.egress.to_string(),
            expected_path: r.expected_path.map(str::to_string),
            next_hops: format!(
                "{}/{}",
                r.src2dst_next_hop.unwrap_or("-"),
                r.dst2src_next_hop.unwrap_or("-")
            ),
            asymmetric: r.asymmetric,
            path_conformant: r.path_conformant,
            path_note: r.path_note.map(str::to_string),
            bytes: r.bytes,
        }
    }

    /// Transport, both ends and the app, as an engineer greps a capture.
    pub fn five_tuple(&self) -> String {
        endpoints(
            &self.transport,
            &self.src_ip,
            self.src_port,
            &self.dst_ip,
            self.dst_port,
            &self.app_protocol,
        )
    }

    /// Largest first; the rest only makes the order total.
    fn order(a: &Self, b: &Self) -> std::cmp::Ordering {
        b.bytes
            .cmp(&a.bytes)
            .then(a.first_seen_us.cmp(&b.first_seen_us))
            .then_with(|| {
                (&a.src_ip, &a.dst_ip, a.dst_port).cmp(&(&b.src_ip, &b.dst_ip, b.dst_port))
            })
            .then_with(|| a.path_note.cmp(&b.path_note))
    }
}

/// `udp 10.0.0.1:5000 > [2001:db8::1]:443 srtp`.
fn endpoints(transport: &str, src: &str, sport: i32, dst: &str, dport: i32, app: &str) -> String {
    let ep = |a: &str, p: i32| {
        if a.contains(':') {
            format!("[{a}]:{p}")
        } else {
            format!("{a}:{p}")
        }
    };
    format!("{transport} {} > {} {app}", ep(src, sport), ep(dst, dport))
}

/// A poor RTP stream, as listed: where to find it and how poor it was.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PoorStream {
    /// The flow's `first_seen`, µs since the Unix epoch.
    pub first_seen_us: i64,
    /// Transport, both ends and the app of its flow.
    pub flow: String,
    /// The flow's `community_id`.
    pub community_id: String,
    /// The flow's `egress`.
    pub egress: String,
    /// RTP packets.
    pub packets: u64,
    /// Whole-stream loss percent.
    pub loss_pct: f64,
    /// Worst 15 s window loss percent.
    pub loss_window_pct: Option<f64>,
    /// Largest jitter in a counted window (ms).
    pub jitter_window_ms: Option<f64>,
}

impl PoorStream {
    /// Worst first: by worst-window loss, then jitter, then time.
    fn order(a: &Self, b: &Self) -> std::cmp::Ordering {
        let w = |p: &Self| p.loss_window_pct.unwrap_or(p.loss_pct);
        w(b).total_cmp(&w(a))
            .then(
                b.jitter_window_ms
                    .unwrap_or(0.0)
                    .total_cmp(&a.jitter_window_ms.unwrap_or(0.0)),
            )
            .then(a.first_seen_us.cmp(&b.first_seen_us))
            .then_with(|| a.flow.cmp(&b.flow))
    }
}

/// What only the HTML report draws: bytes over time by egress, and the
/// local hosts with the most bytes.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    /// Bytes by (minute of `first_seen`, egress).
    pub by_minute: BTreeMap<(i64, String), u64>,
    /// Totals by local host.
    pub talkers: HashMap<String, Totals>,
    /// Bytes by (local host, egress).
    pub talker_egress: HashMap<(String, String), u64>,
}

/// The aggregate itself.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// By (app_protocol, transport).
    pub by_app: BTreeMap<(String, String), Totals>,
    /// By (traffic_type, path): the observed path where one was seen, else
    /// the prediction labelled `<egress> (predicted)`.
    pub by_egress: BTreeMap<(String, String), Totals>,
    /// By service (`-` when none).
    pub services: HashMap<String, Totals>,
    /// By server name (flows that have one).
    pub server_names: HashMap<String, Totals>,
    /// By mirror session or tunnel network (`erspan2 301`, `vxlan 5001`;
    /// flows that came out of a tunnel).
    pub tunnels: HashMap<String, Totals>,
    /// Records whose two directions crossed different edges.
    pub asymmetric: u64,
    /// Records where asymmetry could be judged at all (both directions
    /// crossed a configured edge); 0 means it was not measured.
    pub asymmetry_measured: u64,
    /// Records whose observed path contradicts the call-flow expectation.
    pub non_conformant: u64,
    /// Records with a call-flow expectation at all.
    pub with_expectation: u64,
    /// Records with an expectation judged on observed evidence (an edge of
    /// known path crossed, or both ends local).
    pub judged_observed: u64,
    /// Records with an expectation but no observed path: only predicted.
    pub expected_only: u64,
    /// What the runs said of the site's ExpressRoute circuit (file
    /// metadata `pathlens.circuit`).
    pub circuit: BTreeSet<String>,
    /// RTP streams arriving at the site, pooled by edge and hour.
    pub segment: SegmentPools,
    /// Records asymmetric or non-conformant (or both).
    pub flagged_total: u64,
    /// The largest asymmetric or non-conformant records.
    pub flagged: Vec<Flagged>,
    /// Everything.
    pub total: Totals,
    /// RTP streams by egress group.
    pub media: BTreeMap<String, MediaGroup>,
    /// RTP packets dropped by the per-flow stream cap, over all flows.
    pub rtp_overflow_packets: u64,
    /// Run counters summed over the runs seen (empty at the end of `read`,
    /// whose counters are printed by the caller).
    pub counters: BTreeMap<String, serde_json::Value>,
    /// Runs seen (files' `pathlens.run_id`), with their inputs.
    pub runs: BTreeMap<String, Vec<String>>,
    /// Edges, latency and marking.
    pub paths: Paths,
    /// Calls and streams by building and subnet (the calls table).
    pub places: Places,
    /// RTP streams judged poor.
    pub poor_total: u64,
    /// The worst poor streams.
    pub poor_streams: Vec<PoorStream>,
    /// Kept only for the report.
    pub detail: Option<Box<Detail>>,
}

/// Each egress value and its label as a prediction.
const PREDICTED: [(&str, &str); 4] = [
    ("local", "local (predicted)"),
    ("expressroute", "expressroute (predicted)"),
    ("internet", "internet (predicted)"),
    ("unknown", "unknown (predicted)"),
];

fn bump(m: &mut HashMap<String, Totals>, k: &str, r: &FlowRow<'_>) {
    match m.get_mut(k) {
        Some(t) => t.add(r),
        None => m.entry(k.to_string()).or_default().add(r),
    }
}

/// A two-text key, looked up in a map of owned pairs without building one:
/// the summary counts every row under two such keys, and the two string
/// copies per key that a lookup by owned pair needs were most of its cost.
trait PairKey {
    fn pair(&self) -> (&str, &str);
}

impl PairKey for (String, String) {
    fn pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl PairKey for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        *self
    }
}

impl<'a> std::borrow::Borrow<dyn PairKey + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn PairKey + 'a) {
        self
    }
}

// The order of the owned pairs themselves, as `Borrow` requires.
impl Ord for dyn PairKey + '_ {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.pair().cmp(&o.pair())
    }
}

impl PartialOrd for dyn PairKey + '_ {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for dyn PairKey + '_ {
    fn eq(&self, o: &Self) -> bool {
        self.pair() == o.pair()
    }
}

impl Eq for dyn PairKey + '_ {}

fn bump_pair(m: &mut BTreeMap<(String, String), Totals>, k: (&str, &str), r: &FlowRow<'_>) {
    match m.get_mut(&k as &dyn PairKey) {
        Some(t) => t.add(r),
        None => m
            .entry((k.0.to_string(), k.1.to_string()))
            .or_default()
            .add(r),
    }
}

impl Summary {
    /// Counts calls the writer closed, by building and subnet.
    pub fn add_calls(&mut self, calls: &[crate::CallRecord]) {
        for c in calls {
            self.places.add(&CallRow::of(c));
        }
    }

    /// An empty summary that also keeps what the report draws.
    pub fn with_detail() -> Self {
        Summary {
            detail: Some(Box::default()),
            ..Summary::default()
        }
    }

    /// Counts one record.
    pub fn add(&mut self, r: &FlowRecord) {
        self.add_row(&FlowRow::from_record(r));
    }

    /// Counts the RTP streams of one record.
    pub fn add_streams(&mut self, r: &FlowRecord, streams: &[StreamRecord]) {
        let row = FlowRow::from_record(r);
        for s in streams {
            self.add_stream_of(&row, &StreamRow::from_record(s));
        }
    }

    /// Counts one flow row.
    pub fn add_row(&mut self, r: &FlowRow<'_>) {
        self.total.add(r);
        bump_pair(&mut self.by_app, (r.app_protocol, r.transport), r);
        let label = Self::path_label(r);
        bump_pair(&mut self.by_egress, (r.traffic_type, &label), r);
        if r.expected_path.is_some() {
            self.judged_observed += u64::from(r.path_conformant.is_some());
            self.expected_only += u64::from(r.path_conformant.is_none());
        }
        bump(&mut self.services, r.service.unwrap_or("-"), r);
        if let Some(n) = r.server_name {
            bump(&mut self.server_names, n, r);
        }
        if let Some(e) = r.encapsulation {
            let k = match r.tunnel_id {
                Some(id) => format!("{e} {id}"),
                None => e.to_string(),
            };
            bump(&mut self.tunnels, &k, r);
        }
        let asym = r.asymmetric == Some(true);
        let nonconf = r.path_conformant == Some(false);
        self.asymmetric += u64::from(asym);
        self.asymmetry_measured += u64::from(r.asymmetric.is_some());
        self.non_conformant += u64::from(nonconf);
        self.with_expectation += u64::from(r.expected_path.is_some());
        if asym || nonconf {
            self.flagged_total += 1;
            self.flagged.push(Flagged::of(r));
            // Trimmed in bulk: sorting on every push would cost a sort per flow.
            if self.flagged.len() >= 4 * FLAGGED_KEPT {
                self.trim_flagged();
            }
        }
        self.rtp_overflow_packets += r.rtp_overflow_packets;
        self.paths.add(r);
        if let Some(d) = self.detail.as_mut() {
            let minute = r.first_seen_us.div_euclid(60_000_000);
            *d.by_minute.entry((minute, label.to_string())).or_default() += r.bytes;
            let host = r.local_host().to_string();
            *d.talker_egress
                .entry((host.clone(), r.egress.to_string()))
                .or_default() += r.bytes;
            d.talkers.entry(host).or_default().add(r);
        }
    }

    /// Counts one RTP stream of a flow that went out by `egress`; a stream
    /// known only from RTCP (no RTP packets) is not counted.
    pub fn add_stream(&mut self, egress: &str, s: &StreamRow) {
        if s.packets == 0 {
            return;
        }
        let g = match self.media.get_mut(egress) {
            Some(g) => g,
            None => self.media.entry(egress.to_string()).or_default(),
        };
        g.loss_pct.push(s.loss_pct);
        if let Some(j) = s.jitter_mean_ms {
            g.jitter_ms.push(j);
        }
        g.loss_window_pct.extend(s.loss_window_pct);
        g.jitter_window_ms.extend(s.jitter_window_ms);
        if let Some(p) = s.poor {
            g.judged += 1;
            g.poor += u64::from(p);
        }
    }

    /// The path a row is counted under: the observed one where one was
    /// seen, else its prediction, labelled as such.
    pub fn path_label<'a>(r: &FlowRow<'a>) -> Cow<'a, str> {
        match r.path.observed {
            Some(o) => Cow::Borrowed(o),
            // The vocabulary's four without a string built per row.
            None => match PREDICTED.iter().find(|(e, _)| *e == r.egress) {
                Some((_, l)) => Cow::Borrowed(l),
                None => Cow::Owned(format!("{} (predicted)", r.egress)),
            },
        }
    }

    /// Counts the metadata of a run (`pathlens.circuit`).
    pub fn add_metadata<'k>(&mut self, kv: impl IntoIterator<Item = (&'k str, &'k str)>) {
        for (k, v) in kv {
            if k == "pathlens.circuit" && !v.is_empty() {
                self.circuit.insert(v.to_string());
            }
        }
    }

    /// Pools a stream that arrived at the site through an edge.
    fn pool(&mut self, r: &FlowRow<'_>, s: &StreamRow) {
        let (sender, receiver) = if s.src2dst {
            (r.local_src, r.local_dst)
        } else {
            (r.local_dst, r.local_src)
        };
        let edge = r.path.edges[usize::from(!s.src2dst)];
        if let (false, true, Some(edge), true) = (sender, receiver, edge, s.packets > 0) {
            self.segment.add(
                edge,
                r.first_seen_us,
                PoolPart {
                    packets: s.packets,
                    expected: s.expected,
                    lost: s.lost,
                    reordered: s.reordered,
                    jitter_ms: s.jitter_window_ms,
                },
            );
        }
    }

    /// Counts one RTP stream of the flow `f` in its path's group and, when
    /// it arrived through an edge, that edge's pool; lists it when poor.
    pub fn add_stream_of(&mut self, f: &FlowRow<'_>, s: &StreamRow) {
        self.add_stream(&Self::path_label(f), s);
        self.pool(f, s);
        if s.packets == 0 || s.poor != Some(true) {
            return;
        }
        self.poor_total += 1;
        self.poor_streams.push(PoorStream {
            first_seen_us: f.first_seen_us,
            flow: endpoints(
                f.transport,
                &f.src_ip.to_string(),
                f.src_port,
                &f.dst_ip.to_string(),
                f.dst_port,
                f.app_protocol,
            ),
            community_id: f.community_id.unwrap_or("").to_string(),
            egress: Self::path_label(f).into_owned(),
            packets: s.packets,
            loss_pct: s.loss_pct,
            loss_window_pct: s.loss_window_pct,
            jitter_window_ms: s.jitter_window_ms,
        });
        if self.poor_streams.len() >= 4 * FLAGGED_KEPT {
            self.poor_streams.sort_by(PoorStream::order);
            self.poor_streams.truncate(FLAGGED_KEPT);
        }
    }

    /// The poor streams kept, worst first.
    pub fn poor_sorted(&self) -> Vec<&PoorStream> {
        let mut v: Vec<&PoorStream> = self.poor_streams.iter().collect();
        v.sort_by(|a, b| PoorStream::order(a, b));
        v.truncate(FLAGGED_KEPT);
        v
    }

    fn trim_flagged(&mut self) {
        self.flagged.sort_by(Flagged::order);
        self.flagged.truncate(FLAGGED_KEPT);
    }

    /// The flagged flows kept, largest first.
    pub fn flagged_sorted(&self) -> Vec<&Flagged> {
        let mut v: Vec<&Flagged> = self.flagged.iter().collect();
        v.sort_by(|a, b| Flagged::order(a, b));
        v.truncate(FLAGGED_KEPT);
        v
    }

    /// The largest `n` entries of a map by bytes (ties by name).
    pub fn top(m: &HashMap<String, Totals>, n: usize) -> Vec<(&str, Totals)> {
        let mut v: Vec<(&str, Totals)> = m.iter().map(|(k, t)| (k.as_str(), *t)).collect();
        v.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod test;
