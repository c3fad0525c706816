//! How one client's flows are clustered into calls: media by SIP dialog,
//! else by time, then signaling and checks into the calls they serve (the
//! rule is in the parent module's doc).

use super::{CallFlow, Part, GAP_US};
use std::net::SocketAddr;

/// The flows of one call: its media, and the checks and signaling before it.
pub(super) type Cluster = (Vec<CallFlow>, Vec<CallFlow>);

/// A call being gathered: when its media started and ended, and its flows.
struct Span {
    start: i64,
    end: i64,
    flows: Cluster,
}

impl Span {
    fn of(f: CallFlow) -> Self {
        Span {
            start: f.first_us,
            end: f.last_us,
            flows: (vec![f], Vec::new()),
        }
    }

    fn take(&mut self, f: CallFlow) {
        self.end = self.end.max(f.last_us);
        self.flows.0.push(f);
    }
}

/// An endpoint a SIP dialog's SDP named: the endpoint, when, the dialog.
type Named = (SocketAddr, i64, u64);

/// The dialog a media flow belongs to: of the client's dialogs whose SDP
/// named either of its ends before its last packet, the one that named it
/// last at or before its first packet, else (media before the answer) the
/// first to name it after.
fn dialog_of(m: &CallFlow, named: &[Named]) -> Option<u64> {
    let hits = || {
        named
            .iter()
            .filter(|(a, at, _)| m.ends.contains(a) && *at <= m.last_us)
    };
    hits()
        .filter(|(_, at, _)| *at <= m.first_us)
        .max_by_key(|(_, at, k)| (*at, std::cmp::Reverse(*k)))
        .or_else(|| hits().min_by_key(|(_, at, k)| (*at, *k)))
        .map(|(_, _, k)| *k)
}

/// Clusters one client's flows: media a clear-text SIP dialog named by
/// dialog, other media by [`GAP_US`]; then each signaling flow into the
/// call of its first dialog with media, and each check or other signaling
/// flow into the first call it precedes or falls in. Returns the clusters
/// and the flows no call took.
pub(super) fn clusters(mut flows: Vec<CallFlow>) -> (Vec<Cluster>, Vec<CallFlow>) {
    flows.sort_by_key(|f| (f.first_us, f.flow_id));
    let named: Vec<Named> = flows
        .iter()
        .flat_map(|f| f.dialogs.iter())
        .flat_map(|d| d.endpoints.iter().map(move |(a, at)| (*a, *at, d.key)))
        .collect();
    let (media, others): (Vec<_>, Vec<_>) = flows.into_iter().partition(|f| f.part == Part::Media);
    let mut spans: Vec<Span> = Vec::new();
    // The span of each dialog, and the latest span grouped by time.
    let mut of_dialog: Vec<(u64, usize)> = Vec::new();
    let mut timed: Option<usize> = None;
    for f in media {
        if let Some(k) = dialog_of(&f, &named) {
            let known = of_dialog.iter().find(|(d, _)| *d == k).map(|(_, i)| *i);
            match known.and_then(|i| spans.get_mut(i)) {
                Some(c) => c.take(f),
                None => {
                    of_dialog.push((k, spans.len()));
                    spans.push(Span::of(f));
                }
            }
            continue;
        }
        match timed.and_then(|i| spans.get_mut(i)) {
            Some(c) if f.first_us < c.end + GAP_US => c.take(f),
            _ => {
                timed = Some(spans.len());
                spans.push(Span::of(f));
            }
        }
    }
    let mut left = Vec::new();
    for f in others {
        // A signaling flow carrying several dialogs (one connection for
        // every call of its client) joins the call of its first one only.
        let by_dialog = f
            .dialogs
            .iter()
            .filter_map(|d| {
                let (_, i) = of_dialog.iter().find(|(k, _)| *k == d.key)?;
                Some((d.first_us, *i))
            })
            .min()
            .map(|(_, i)| i);
        let at = by_dialog.or_else(|| {
            spans
                .iter()
                .position(|c| f.first_us >= c.start - GAP_US && f.first_us <= c.end)
        });
        match at.and_then(|i| spans.get_mut(i)) {
            Some(c) => c.flows.1.push(f),
            None => left.push(f),
        }
    }
    (spans.into_iter().map(|s| s.flows).collect(), left)
}
