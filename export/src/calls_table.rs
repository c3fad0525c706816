//! The `calls` table: one row per call (grouped by
//! `pathlens_classify::calls`), written beside the flows and streams as
//! `OUT.calls.parquet` or `DIR/calls/`. Its columns are declared here, once.
//!
//! [`CallHold`] is the writer's side of the grouping: in a file run it holds
//! the rows of the flows that may belong to a call until the call has
//! ended, then hands them back with their `call_id`, together with the
//! call's row. In a live run the rows go on at once, without `call_id`, and
//! only the call's row waits: the calls table's `flow_ids` is the join.

use crate::column::{i64c, schema_of, Column, Row, Value::*};
use crate::record::FlowRecord;
use arrow::datatypes::SchemaRef;
use pathlens_classify::buildings::Building;
use pathlens_classify::calls::{Call, CallFlow, Grouper};
use pathlens_classify::egress::{Egress, ExpectedPath};
use pathlens_classify::media::Quality;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A row of the calls table.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    /// The call.
    pub call: Call,
    /// Its flow ids joined by commas.
    pub flow_ids: String,
    /// The second local end as text, for a call between two local ends.
    pub remote_local: Option<String>,
}

impl CallRecord {
    /// The row of a call.
    pub fn of(call: Call) -> Self {
        let flow_ids = call
            .flow_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let remote_local = call.remote_local.map(|a| a.to_string());
        CallRecord {
            call,
            flow_ids,
            remote_local,
        }
    }

    fn building(&self) -> Option<&Building> {
        self.call.building.as_deref()
    }
}

type C = Column<CallRecord>;

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Every column of the `calls` table, in file order.
pub static CALL_COLUMNS: &[Column<CallRecord>] = &[
    C::new("call_id", I64(|r| r.call.call_id), "the smallest `flow_id` of the call's flows; flows carry it in their `call_id` column"),
    C::new("run_id", Setting(|o| &o.run_id), "as in the flows table"),
    C::new("first_seen", Time(|r| r.call.first_us), "first packet of any of its flows"),
    C::new("last_seen", Time(|r| r.call.last_us), "last packet of any of its flows"),
    C::new("duration_s", F64(|r| (r.call.last_us - r.call.first_us) as f64 / 1e6), "`last_seen - first_seen`, seconds"),
    C::new("local_ip", Ip(|r| r.call.client), "the local client (for a call between two local ends, the initiator of its main media flow)"),
    C::new("peer_local_ip", OptStr(|r| r.remote_local.as_deref()), "for a call between two local ends, the other one; null otherwise"),
    C::new("remote_ip", Ip(|r| r.call.remote), "the other end of its main media flow (the one with the most bytes): a media relay, or the peer"),
    C::new("building", OptDict(|r| r.building().map(|b| &*b.name)), "BuildingName of the client's subnet in the building file; null when none covers it"),
    C::new("network_name", OptDict(|r| r.building().map(|b| &*b.network_name)), "NetworkName of that row"),
    C::new("subnet", OptDict(|r| r.building().map(|b| &*b.subnet)), "that row's subnet, `NetworkIP/NetworkRange`"),
    C::new("region", OptDict(|r| r.building().map(|b| &*b.region)), "Region of that row"),
    C::new("vpn", OptBool(|r| r.building().map(|b| b.vpn)), "VPN of that row"),
    C::new("building_expressroute", OptBool(|r| r.building().map(|b| b.expressroute)), "ExpressRoute of that row"),
    C::new("peer_building", OptDict(|r| r.call.peer_building.as_deref().map(|b| &*b.name)), "for a call between two local ends, the peer's BuildingName"),
    C::new("media_flows", I32(|r| count(r.call.media_flows)), "flows of the call that carried RTP"),
    C::new("flows", I32(|r| i32::try_from(r.call.flow_ids.len()).unwrap_or(i32::MAX)), "every flow of the call: media, ICE checks (STUN/TURN, DTLS) and signaling"),
    C::new("modalities", OptLabel(|r| r.call.modalities_text()), "`audio`, `video`, `sharing` joined by commas, as the Teams ports (3479 audio, 3480 video, 3481 sharing at the relay; 50000-50019, 50020-50039, 50040-50059 at the client) or, without them, the streams' clocks and payload types (90 kHz, H.263, Microsoft's video types: video; else audio) tell; null when nothing does"),
    C::new("streams", I32(|r| count(r.call.streams)), "RTP streams of its media flows (rows of the streams table)"),
    C::new("poor_streams", I32(|r| count(r.call.poor_streams)), "of which judged poor"),
    C::new("good_streams", I32(|r| count(r.call.good_streams)), "of which judged good"),
    C::new("quality", OptLabel(|r| r.call.quality.map(Quality::as_str)), "worst leg: `poor` when a stream is poor, `good` when every judged stream is good; null when none was judged"),
    C::new("cqd_quality", OptLabel(|r| r.call.cqd_quality.map(Quality::as_str)), "worst leg by the streams' `cqd_quality` (Call Quality Dashboard's poor-audio rule restricted to what the wire shows): `poor` when a stream is, `good` when one is judged and none is poor"),
    C::new("one_way_audio", OptBool(|r| r.call.one_way_audio), "an audio direction carried no RTP while the other did (media never answered, or never sent), or its last packet came 5 s or more before the other's (it stopped while the other went on); null without audio"),
    C::new("one_way_note", OptStr(|r| r.call.one_way_note.as_deref()), "which direction, and how long before the other it stopped"),
    C::new("media_bytes", I64(|r| i64c(r.call.media_bytes)), "IP bytes of its media flows"),
    C::new("teams", Bool(|r| r.call.teams), "a media flow's `service` is `skype_teams`"),
    C::new("teams_bytes_expressroute", I64(|r| i64c(r.call.teams_bytes[0])), "IP bytes of its `skype_teams` media flows whose `egress` is `expressroute`"),
    C::new("teams_bytes_internet", I64(|r| i64c(r.call.teams_bytes[1])), "the same, `egress` `internet`"),
    C::new("egress", Label(|r| r.call.egress.as_str()), "prefix-predicted `egress` of its main media flow"),
    C::new("observed_egress", OptLabel(|r| r.call.observed.map(Egress::as_str)), "`observed_egress` of its main media flow"),
    C::new("expected_path", OptLabel(|r| r.call.expected.map(ExpectedPath::as_str)), "`expected_path` of its main media flow (for a building of the building file, from its ExpressRoute flag)"),
    C::new("path_conformant", OptBool(|r| r.call.conformant), "false when a media flow's path did not conform, true when every judged one did, null when none was judged"),
    C::new("flow_ids", Str(|r| &r.flow_ids), "`flow_id`s of its flows, comma-separated (`string_split(flow_ids, ',')` in DuckDB)"),
];

impl Row for CallRecord {
    fn columns() -> &'static [Column<CallRecord>] {
        CALL_COLUMNS
    }
}

/// The `calls` table schema, built once.
pub fn calls_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(CALL_COLUMNS)).clone()
}

/// `OUT.calls.parquet` beside `OUT.parquet`.
pub fn calls_path(flows: &Path) -> PathBuf {
    let name = flows
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".parquet").unwrap_or(&name);
    flows.with_file_name(format!("{stem}.calls.parquet"))
}

/// The writer's hold on the rows of call flows.
///
/// A live run sends the writer every worker's records at every tick, so
/// writer time (the latest `last_seen` handed over) is close to capture
/// time and calls are closed as they end ([`CallHold::live`]). Its rows are
/// not held: a call closes minutes after its last flow (its client may call
/// again), and an analyst waiting on a sensor must see the flows within a
/// rotation, so they go out with a null `call_id`. A file run sends each
/// worker's records in large batches, so one worker's records may come
/// long after another's of the same time: calls are closed at the end of
/// the run, or early once [`HOLD_ROWS`] rows are held.
#[derive(Debug, Default)]
pub struct CallHold {
    grouper: Grouper,
    rows: HashMap<i64, FlowRecord>,
    // Writer time of the last look for ended calls.
    looked_us: i64,
    live: bool,
}

/// Rows a file run holds before it closes calls by writer time, as a live
/// run does, rather than at its end.
pub const HOLD_ROWS: usize = 200_000;

/// Writer time between two looks for ended calls: grouping again at every
/// batch would only find the same calls still going on.
const LOOK_EVERY_US: i64 = 5_000_000;

impl CallHold {
    /// The hold of a live run: rows pass at once, calls close as they end.
    pub fn live() -> Self {
        CallHold {
            live: true,
            ..CallHold::default()
        }
    }

    /// Takes finished records; returns the rows ready to write (every row
    /// of no call at once, the rows of a call once it ended, with their
    /// `call_id`; in a live run every row at once) and the calls that ended.
    pub fn pass(&mut self, recs: Vec<FlowRecord>) -> (Vec<FlowRecord>, Vec<CallRecord>) {
        let mut ready = Vec::with_capacity(recs.len());
        for r in recs {
            let f = CallFlow::of(
                r.flow_id,
                (r.src_ip, r.src_port),
                (r.dst_ip, r.dst_port),
                (r.first_seen_us, r.last_seen_us),
                r.bytes(),
                &r.labels,
            );
            match f {
                Some(f) => {
                    self.grouper.hold(f);
                    if self.live {
                        ready.push(r);
                    } else {
                        self.rows.insert(r.flow_id, r);
                    }
                }
                None => {
                    self.grouper.advance(r.last_seen_us);
                    ready.push(r);
                }
            }
        }
        let now = self.grouper.now_us();
        if !(self.live || self.rows.len() >= HOLD_ROWS) || now < self.looked_us + LOOK_EVERY_US {
            return (ready, Vec::new());
        }
        self.looked_us = now;
        let calls = self.release(false, &mut ready);
        (ready, calls)
    }

    /// Every held row and every call, at the end of the run.
    pub fn finish(&mut self) -> (Vec<FlowRecord>, Vec<CallRecord>) {
        let mut ready = Vec::new();
        let calls = self.release(true, &mut ready);
        (ready, calls)
    }

    /// Rows held.
    pub fn held(&self) -> usize {
        self.rows.len()
    }

    fn release(&mut self, all: bool, ready: &mut Vec<FlowRecord>) -> Vec<CallRecord> {
        let closed = self.grouper.close(all);
        for id in closed.released {
            ready.extend(self.rows.remove(&id));
        }
        closed
            .calls
            .into_iter()
            .map(|call| {
                for id in &call.flow_ids {
                    if let Some(mut r) = self.rows.remove(id) {
                        r.labels.call_id = Some(call.call_id);
                        ready.push(r);
                    }
                }
                CallRecord::of(call)
            })
            .collect()
    }
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use pathlens_classify::{AppProtocol, TrafficType};

    /// A media flow of local client 10.0.0.1 that carried RTP, at `t` s.
    fn media(flow_id: i64, t: i64) -> FlowRecord {
        let mut r = FlowRecord::example();
        r.flow_id = flow_id;
        r.src_ip = "10.0.0.1".parse().unwrap();
        r.dst_ip = "52.112.0.1".parse().unwrap();
        r.first_seen_us = t * 1_000_000;
        r.last_seen_us = (t + 30) * 1_000_000;
        r.labels.local_src = true;
        r.labels.local_dst = false;
        r.labels.traffic_type = TrafficType::Media;
        r.labels.app_protocol = AppProtocol::Rtp;
        r
    }

    #[test]
    fn live_passes_call_rows_at_once_a_file_run_holds_them_for_their_call_id() {
        let mut live = CallHold::live();
        let (rows, calls) = live.pass(vec![media(7, 100), media(9, 110)]);
        assert_eq!(rows.len(), 2, "written at once");
        assert!(rows.iter().all(|r| r.labels.call_id.is_none()));
        assert!(calls.is_empty(), "the client may call again");
        let (rows, calls) = live.finish();
        assert!(rows.is_empty());
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].call.call_id, calls[0].flow_ids.as_str()),
            (7, "7,9")
        );

        let mut file = CallHold::default();
        let (rows, _) = file.pass(vec![media(7, 100), media(9, 110)]);
        assert!(rows.is_empty(), "held until the call is known");
        let (rows, calls) = file.finish();
        assert_eq!(calls.len(), 1);
        assert!(rows.iter().all(|r| r.labels.call_id == Some(7)), "{rows:?}");
    }
}
