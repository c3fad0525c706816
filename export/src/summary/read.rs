//! Reading flows back for the summary and the report: flows files and
//! dataset directories in any mix, each file's streams table beside it
//! (`OUT.streams.parquet`, or `streams/` beside `flows/`), `date=`/`hour=`
//! partitions pruned against the time range, every column read by name so
//! files with columns added or reordered read the same.

use super::inputs::{io, Inputs, ReadError, TimeRange};
use super::{FlowRow, StreamRow, Summary};
use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Int32Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A string column, plain or dictionary-encoded.
enum Strs<'a> {
    Plain(&'a arrow::array::StringArray),
    Dict(&'a arrow::array::Int32Array, &'a arrow::array::StringArray),
    Absent,
}

impl<'a> Strs<'a> {
    fn of(a: Option<&'a ArrayRef>) -> Self {
        match a {
            None => Strs::Absent,
            Some(a) => match a.data_type() {
                DataType::Dictionary(..) => {
                    let d = a.as_dictionary::<Int32Type>();
                    Strs::Dict(d.keys(), d.values().as_string::<i32>())
                }
                _ => Strs::Plain(a.as_string::<i32>()),
            },
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Plain(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Dict(k, v) => {
                let k = k.is_valid(i).then(|| k.value(i))?;
                usize::try_from(k).ok().map(|k| v.value(k))
            }
            Strs::Absent => None,
        }
    }
}

/// One batch's columns, each cast once to the type the summary reads.
struct Cols {
    path: PathBuf,
    cols: HashMap<&'static str, ArrayRef>,
}

impl Cols {
    fn new(path: &Path, b: &RecordBatch, names: &[&'static str]) -> Result<Self, ReadError> {
        let mut cols = HashMap::new();
        for &n in names {
            let Some(a) = b.column_by_name(n) else {
                continue;
            };
            let want = match a.data_type() {
                DataType::Utf8 | DataType::Boolean | DataType::Int64 | DataType::Float64 => None,
                DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                    None
                }
                DataType::Dictionary(..) | DataType::LargeUtf8 | DataType::Utf8View => {
                    Some(DataType::Utf8)
                }
                DataType::Float32 => Some(DataType::Float64),
                _ => Some(DataType::Int64),
            };
            let a = match want {
                None => a.clone(),
                Some(t) => arrow::compute::cast(a, &t).map_err(|source| ReadError::Arrow {
                    path: path.to_path_buf(),
                    column: n.to_string(),
                    source,
                })?,
            };
            cols.insert(n, a);
        }
        Ok(Cols {
            path: path.to_path_buf(),
            cols,
        })
    }

    fn need(&self, n: &'static str) -> Result<&ArrayRef, ReadError> {
        self.cols.get(n).ok_or_else(|| ReadError::Missing {
            path: self.path.clone(),
            column: n,
        })
    }

    fn ints(&self, n: &'static str) -> Result<&Int64Array, ReadError> {
        self.need(n)?
            .as_primitive_opt()
            .ok_or_else(|| self.wrong(n))
    }

    fn opt_ints(&self, n: &'static str) -> Option<&Int64Array> {
        self.cols.get(n).and_then(|a| a.as_primitive_opt())
    }

    fn floats(&self, n: &'static str) -> Option<&Float64Array> {
        self.cols.get(n).and_then(|a| a.as_primitive_opt())
    }

    fn bools(&self, n: &'static str) -> Option<&BooleanArray> {
        self.cols.get(n).and_then(|a| a.as_boolean_opt())
    }

    fn strs(&self, n: &'static str) -> Strs<'_> {
        Strs::of(self.cols.get(n))
    }

    fn wrong(&self, n: &'static str) -> ReadError {
        ReadError::Arrow {
            path: self.path.clone(),
            column: n.to_string(),
            source: arrow::error::ArrowError::CastError("unexpected type".into()),
        }
    }
}

fn opt_bool(a: Option<&BooleanArray>, i: usize) -> Option<bool> {
    a.filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

fn opt_f64(a: Option<&Float64Array>, i: usize) -> Option<f64> {
    a.filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Opens a file for reading only `names` (those it has), with its key-value
/// metadata.
fn open(
    path: &Path,
    names: &[&str],
) -> Result<
    (
        parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        HashMap<String, String>,
    ),
    ReadError,
> {
    let pq = |source| ReadError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io(path))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq)?;
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let idx: Vec<usize> = b
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| names.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(b.parquet_schema(), idx);
    let r = b
        .with_projection(mask)
        .with_batch_size(16 * 1024)
        .build()
        .map_err(pq)?;
    Ok((r, kv))
}

const STREAM_COLS: &[&str] = &[
    "run_id",
    "flow_id",
    "direction",
    "expected",
    "lost",
    "reordered",
    "packets",
    "loss_pct",
    "jitter_mean_ms",
    "quality",
    "loss_max_window_pct",
    "jitter_max_window_ms",
];

const FLOW_COLS: &[&str] = &[
    "run_id",
    "encapsulation",
    "tunnel_id",
    "flow_id",
    "first_seen",
    "app_protocol",
    "transport",
    "traffic_type",
    "egress",
    "service",
    "server_name",
    "bidirectional_packets",
    "bidirectional_bytes",
    "src_ip",
    "dst_ip",
    "dst_port",
    "src_port",
    "community_id",
    "local_src",
    "local_dst",
    "src2dst_next_hop",
    "dst2src_next_hop",
    "asymmetric",
    "expected_path",
    "path_conformant",
    "path_note",
    "rtp_overflow_packets",
    "src2dst_edge",
    "dst2src_edge",
    "observed_egress",
    "src2dst_packets",
    "dst2src_packets",
    "src2dst_bytes",
    "dst2src_bytes",
    "src2dst_dscp",
    "dst2src_dscp",
    "server_rtt_ms",
    "stun_rtt_ms",
];

/// Streams by (run, flow_id), runs interned.
#[derive(Default)]
struct StreamIndex {
    runs: HashMap<String, u32>,
    by_flow: HashMap<(u32, i64), Vec<StreamRow>>,
}

impl StreamIndex {
    fn read(&mut self, path: &Path) -> Result<(), ReadError> {
        let (r, kv) = open(path, STREAM_COLS)?;
        let file_run = kv.get("pathlens.run_id").cloned().unwrap_or_default();
        for b in r {
            let b = b.map_err(|source| ReadError::Arrow {
                path: path.to_path_buf(),
                column: String::new(),
                source,
            })?;
            let c = Cols::new(path, &b, STREAM_COLS)?;
            let run = c.strs("run_id");
            let flow = c.ints("flow_id")?;
            let packets = c.ints("packets")?;
            let direction = c.strs("direction");
            let [expected, lost, reordered] =
                ["expected", "lost", "reordered"].map(|n| c.opt_ints(n));
            let int = |a: Option<&Int64Array>, i: usize| {
                a.filter(|a| a.is_valid(i)).map_or(0, |a| u(a.value(i)))
            };
            let loss = c.floats("loss_pct").ok_or_else(|| c.wrong("loss_pct"))?;
            let jitter = c.floats("jitter_mean_ms");
            let quality = c.strs("quality");
            let loss_window = c.floats("loss_max_window_pct");
            let jitter_window = c.floats("jitter_max_window_ms");
            for i in 0..b.num_rows() {
                let run = run.get(i).unwrap_or(&file_run);
                let n = self.runs.len() as u32;
                let id = *self.runs.entry(run.to_string()).or_insert(n);
                self.by_flow
                    .entry((id, flow.value(i)))
                    .or_default()
                    .push(StreamRow {
                        src2dst: direction.get(i) != Some("dst2src"),
                        packets: u(packets.value(i)),
                        expected: int(expected, i),
                        lost: int(lost, i),
                        reordered: int(reordered, i),
                        loss_pct: loss.value(i),
                        jitter_mean_ms: opt_f64(jitter, i),
                        loss_window_pct: opt_f64(loss_window, i),
                        jitter_window_ms: opt_f64(jitter_window, i),
                        poor: quality.get(i).map(|q| q == "poor"),
                    });
            }
        }
        Ok(())
    }
}

const CALL_COLS: &[&str] = &[
    "first_seen",
    "building",
    "subnet",
    "one_way_audio",
    "quality",
    "streams",
    "poor_streams",
    "good_streams",
    "teams",
    "teams_bytes_expressroute",
    "teams_bytes_internet",
    "path_conformant",
];

/// Adds the calls of a calls file inside `range` to the summary.
fn read_calls(s: &mut Summary, path: &Path, range: &TimeRange) -> Result<(), ReadError> {
    let (r, _) = open(path, CALL_COLS)?;
    for b in r {
        let b = b.map_err(|source| ReadError::Arrow {
            path: path.to_path_buf(),
            column: String::new(),
            source,
        })?;
        let c = Cols::new(path, &b, CALL_COLS)?;
        let first = c.ints("first_seen")?;
        let (building, subnet, quality) = (c.strs("building"), c.strs("subnet"), c.strs("quality"));
        let int = |n: &'static str| c.opt_ints(n);
        let (streams, poor, good, er, inet) = (
            int("streams"),
            int("poor_streams"),
            int("good_streams"),
            int("teams_bytes_expressroute"),
            int("teams_bytes_internet"),
        );
        let (one_way, teams, conformant) = (
            c.bools("one_way_audio"),
            c.bools("teams"),
            c.bools("path_conformant"),
        );
        let n = |a: Option<&Int64Array>, i: usize| a.map_or(0, |a| u(a.value(i)));
        for i in 0..b.num_rows() {
            if !range.contains(first.value(i)) {
                continue;
            }
            s.places.add(&super::CallRow {
                first_us: first.value(i),
                building: building.get(i).unwrap_or("-").to_string(),
                subnet: subnet.get(i).unwrap_or("-").to_string(),
                one_way: opt_bool(one_way, i) == Some(true),
                poor: quality.get(i) == Some("poor"),
                streams: n(streams, i),
                poor_streams: n(poor, i),
                good_streams: n(good, i),
                teams: opt_bool(teams, i) == Some(true),
                teams_bytes_expressroute: n(er, i),
                teams_bytes_internet: n(inet, i),
                conformant: opt_bool(conformant, i),
            });
        }
    }
    Ok(())
}

/// Adds another run's counters: numbers add up, maps add up by key.
fn add_counters(into: &mut BTreeMap<String, Value>, c: &serde_json::Map<String, Value>) {
    for (k, v) in c {
        let slot = into.entry(k.clone()).or_insert(Value::Null);
        match (slot.as_u64(), v) {
            (Some(a), Value::Number(b)) => *slot = Value::from(a + b.as_u64().unwrap_or(0)),
            (_, Value::Object(m)) => {
                let mut inner: BTreeMap<String, Value> = slot
                    .as_object()
                    .map(|o| o.clone().into_iter().collect())
                    .unwrap_or_default();
                add_counters(&mut inner, m);
                *slot = Value::Object(inner.into_iter().collect());
            }
            _ => *slot = v.clone(),
        }
    }
}

/// Reads the flows (and streams) of `paths` inside `range` into a summary;
/// `detail` also keeps what the HTML report draws. The counters are those
/// of every run seen, whole (a time range does not cut them).
///
/// # Errors
/// A path with nothing to read, a file that is not a readable flows table.
pub fn summarize(paths: &[PathBuf], range: &TimeRange, detail: bool) -> Result<Summary, ReadError> {
    let (paths, _copies) = super::inputs::localize(paths, range)?;
    let inputs = Inputs::find(&paths, range)?;
    let mut streams = StreamIndex::default();
    for p in &inputs.streams {
        streams.read(p)?;
    }
    let mut s = if detail {
        Summary::with_detail()
    } else {
        Summary::default()
    };
    let mut counters: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for p in &inputs.flows {
        let (r, kv) = open(p, FLOW_COLS)?;
        s.add_metadata(kv.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let file_run = kv.get("pathlens.run_id").cloned().unwrap_or_default();
        if let Some(c) = kv.get("pathlens.counters") {
            if let Ok(Value::Object(m)) = serde_json::from_str(c) {
                counters.entry(file_run.clone()).or_insert(m);
            }
        }
        let inputs: Vec<String> = kv
            .get("pathlens.inputs")
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        let run_inputs = s.runs.entry(file_run.clone()).or_default();
        if run_inputs.is_empty() {
            *run_inputs = inputs;
        }
        for b in r {
            let b = b.map_err(|source| ReadError::Arrow {
                path: p.clone(),
                column: String::new(),
                source,
            })?;
            add_batch(
                &mut s,
                &streams,
                &Cols::new(p, &b, FLOW_COLS)?,
                b.num_rows(),
                range,
                &file_run,
            )?;
        }
    }
    for c in counters.values() {
        add_counters(&mut s.counters, c);
    }
    for p in &inputs.calls {
        read_calls(&mut s, p, range)?;
    }
    Ok(s)
}

/// One batch's flow columns, looked up once: `row` reads row `i` from them.
struct FlowCols<'a> {
    first: &'a Int64Array,
    packets: &'a Int64Array,
    bytes: &'a Int64Array,
    dst_port: &'a Int64Array,
    src_port: Option<&'a Int64Array>,
    flow_id: Option<&'a Int64Array>,
    overflow: Option<&'a Int64Array>,
    tunnel_id: Option<&'a Int64Array>,
    encapsulation: Strs<'a>,
    /// run, app, transport, traffic, egress, service, server, src, dst,
    /// hop_a, hop_b, expected, note, community id, edge_a, edge_b, observed.
    strs: [Strs<'a>; 17],
    /// local_src, local_dst, asymmetric, path_conformant.
    bools: [Option<&'a BooleanArray>; 4],
    /// Packets, bytes and DSCP of each direction.
    ints: [Option<&'a Int64Array>; 6],
    server_rtt: Option<&'a Float64Array>,
    stun_rtt: Option<&'a Float64Array>,
}

impl<'a> FlowCols<'a> {
    fn of(c: &'a Cols) -> Result<Self, ReadError> {
        for n in [
            "app_protocol",
            "transport",
            "traffic_type",
            "egress",
            "src_ip",
            "dst_ip",
        ] {
            c.need(n)?;
        }
        Ok(FlowCols {
            first: c.ints("first_seen")?,
            packets: c.ints("bidirectional_packets")?,
            bytes: c.ints("bidirectional_bytes")?,
            dst_port: c.ints("dst_port")?,
            src_port: c.opt_ints("src_port"),
            flow_id: c.opt_ints("flow_id"),
            overflow: c.opt_ints("rtp_overflow_packets"),
            tunnel_id: c.opt_ints("tunnel_id"),
            encapsulation: c.strs("encapsulation"),
            strs: [
                "run_id",
                "app_protocol",
                "transport",
                "traffic_type",
                "egress",
                "service",
                "server_name",
                "src_ip",
                "dst_ip",
                "src2dst_next_hop",
                "dst2src_next_hop",
                "expected_path",
                "path_note",
                "community_id",
                "src2dst_edge",
                "dst2src_edge",
                "observed_egress",
            ]
            .map(|n| c.strs(n)),
            bools: ["local_src", "local_dst", "asymmetric", "path_conformant"].map(|n| c.bools(n)),
            ints: [
                "src2dst_packets",
                "dst2src_packets",
                "src2dst_bytes",
                "dst2src_bytes",
                "src2dst_dscp",
                "dst2src_dscp",
            ]
            .map(|n| c.opt_ints(n)),
            server_rtt: c.floats("server_rtt_ms"),
            stun_rtt: c.floats("stun_rtt_ms"),
        })
    }

    fn row(&self, i: usize) -> FlowRow<'a> {
        let int = |a: Option<&Int64Array>| a.filter(|a| a.is_valid(i)).map(|a| a.value(i));
        let [_, app, transport, traffic, egress, service, server, src, dst, hop_a, hop_b, expected, note, cid, edge_a, edge_b, observed] =
            &self.strs;
        let [local_src, local_dst, asym, conf] = self.bools;
        let [pk_a, pk_b, by_a, by_b, dscp_a, dscp_b] = self.ints;
        FlowRow {
            first_seen_us: self.first.value(i),
            app_protocol: app.get(i).unwrap_or(""),
            transport: transport.get(i).unwrap_or(""),
            traffic_type: traffic.get(i).unwrap_or(""),
            egress: egress.get(i).unwrap_or(""),
            service: service.get(i),
            server_name: server.get(i),
            encapsulation: self.encapsulation.get(i),
            tunnel_id: int(self.tunnel_id),
            packets: u(self.packets.value(i)),
            bytes: u(self.bytes.value(i)),
            src_ip: super::Addr::Text(src.get(i).unwrap_or("")),
            dst_ip: super::Addr::Text(dst.get(i).unwrap_or("")),
            dst_port: i32::try_from(self.dst_port.value(i)).unwrap_or(0),
            src_port: int(self.src_port).map_or(0, |p| i32::try_from(p).unwrap_or(0)),
            community_id: cid.get(i),
            local_src: opt_bool(local_src, i).unwrap_or(false),
            local_dst: opt_bool(local_dst, i).unwrap_or(false),
            src2dst_next_hop: hop_a.get(i),
            dst2src_next_hop: hop_b.get(i),
            asymmetric: opt_bool(asym, i),
            expected_path: expected.get(i),
            path_conformant: opt_bool(conf, i),
            path_note: note.get(i),
            rtp_overflow_packets: int(self.overflow).map_or(0, u),
            path: super::PathRow {
                edges: [edge_a.get(i), edge_b.get(i)],
                next_hops: [hop_a.get(i), hop_b.get(i)],
                observed: observed.get(i),
                packets: [pk_a, pk_b].map(|a| int(a).map_or(0, u)),
                bytes: [by_a, by_b].map(|a| int(a).map_or(0, u)),
                dscp: [int(dscp_a), int(dscp_b)],
                server_rtt_ms: opt_f64(self.server_rtt, i),
                stun_rtt_ms: opt_f64(self.stun_rtt, i),
            },
        }
    }
}

fn add_batch(
    s: &mut Summary,
    streams: &StreamIndex,
    c: &Cols,
    rows: usize,
    range: &TimeRange,
    file_run: &str,
) -> Result<(), ReadError> {
    let f = FlowCols::of(c)?;
    for i in 0..rows {
        if !range.contains(f.first.value(i)) {
            continue;
        }
        let row = f.row(i);
        s.add_row(&row);
        if let (false, Some(ids)) = (streams.by_flow.is_empty(), f.flow_id) {
            let r = f.strs[0].get(i).unwrap_or(file_run);
            if let Some(list) = streams
                .runs
                .get(r)
                .and_then(|id| streams.by_flow.get(&(*id, ids.value(i))))
            {
                for st in list {
                    s.add_stream_of(&row, st);
                }
            }
        }
    }
    Ok(())
}
