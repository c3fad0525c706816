//! Scoring a flows file against labelled ground truth (`labels.tsv` of the
//! corpus, or any file with the same columns): a confusion matrix, per-class
//! precision and recall, and overall accuracy.
//!
//! Labels name whole 5-tuples per capture file; flows are joined on the file
//! name (the basename of `interface`), the transport and the unordered
//! endpoint pair. When timeouts split a flow into several rows, the row with
//! the most packets speaks for it. A label `skip` is not scored; a note item
//! `alt=<class>` names a second class that is also accepted.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::path::Path;

/// Scoring failed to read its inputs.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// A file could not be read.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The labels file is malformed.
    #[error("{file}:{line}: {message}")]
    Labels {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The flows file is not a pathlens flows table.
    #[error("{0}: {1}")]
    Flows(String, String),
}

type Key = (String, String, BTreeSet<(String, i32)>);

/// The outcome of a scoring run.
#[derive(Clone, Debug, Default)]
pub struct Score {
    /// (label, prediction) counts; an accepted alternate counts as the label.
    pub confusion: BTreeMap<(String, String), u64>,
    /// Labelled flows scored.
    pub scored: u64,
    /// Of which classified as labelled (or as an accepted alternate).
    pub correct: u64,
    /// Labelled flows with no row in the flows file.
    pub missing: u64,
}

/// Precision and recall of one class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassScore {
    /// Labelled flows of the class.
    pub support: u64,
    /// Correct / predicted as the class.
    pub precision: f64,
    /// Correct / labelled as the class.
    pub recall: f64,
}

impl Score {
    /// Overall accuracy.
    pub fn accuracy(&self) -> f64 {
        if self.scored == 0 {
            return 0.0;
        }
        self.correct as f64 / self.scored as f64
    }

    /// Per-class precision and recall, for every class labelled or predicted.
    pub fn classes(&self) -> BTreeMap<String, ClassScore> {
        let mut names: BTreeSet<&String> = BTreeSet::new();
        for (l, p) in self.confusion.keys() {
            names.insert(l);
            names.insert(p);
        }
        names
            .into_iter()
            .map(|c| {
                let tp = *self.confusion.get(&(c.clone(), c.clone())).unwrap_or(&0);
                let labelled: u64 = self
                    .confusion
                    .iter()
                    .filter(|((l, _), _)| l == c)
                    .map(|(_, n)| n)
                    .sum();
                let predicted: u64 = self
                    .confusion
                    .iter()
                    .filter(|((_, p), _)| p == c)
                    .map(|(_, n)| n)
                    .sum();
                let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
                (
                    c.clone(),
                    ClassScore {
                        support: labelled,
                        precision: ratio(tp, predicted),
                        recall: ratio(tp, labelled),
                    },
                )
            })
            .collect()
    }

    /// The report: confusion matrix, per-class table, accuracy.
    pub fn report(&self) -> String {
        let classes = self.classes();
        let names: Vec<&String> = classes.keys().collect();
        let mut s = String::new();
        let _ = writeln!(s, "confusion matrix (rows: label, columns: pathlens)");
        let _ = write!(s, "{:<10}", "");
        for n in &names {
            let _ = write!(s, " {:>9}", truncate(n));
        }
        s.push('\n');
        for l in &names {
            let _ = write!(s, "{:<10}", truncate(l));
            for p in &names {
                let v = self
                    .confusion
                    .get(&((*l).clone(), (*p).clone()))
                    .copied()
                    .unwrap_or(0);
                let _ = write!(
                    s,
                    " {:>9}",
                    if v == 0 {
                        ".".to_string()
                    } else {
                        v.to_string()
                    }
                );
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "\n{:<12} {:>8} {:>10} {:>8}",
            "class", "support", "precision", "recall"
        );
        for (c, v) in &classes {
            let _ = writeln!(
                s,
                "{:<12} {:>8} {:>10.3} {:>8.3}",
                c, v.support, v.precision, v.recall
            );
        }
        let _ = writeln!(
            s,
            "\naccuracy {:.4} ({} of {} labelled flows; {} labelled flows had no row)",
            self.accuracy(),
            self.correct,
            self.scored,
            self.missing
        );
        s
    }
}

fn truncate(s: &str) -> &str {
    s.get(..9).unwrap_or(s)
}

struct Label {
    key: Key,
    app: String,
    alts: Vec<String>,
}

/// An address as the flows table writes it (RFC 5952 for IPv6): labels
/// written by other tools spell IPv6 in full or in capitals, and would
/// otherwise match no flow (an IPv6 ESP flow scored as missing).
fn canonical_addr(a: &str) -> String {
    a.trim()
        .parse::<std::net::IpAddr>()
        .map_or_else(|_| a.to_string(), |ip| ip.to_string())
}

fn read_labels(path: &Path) -> Result<Vec<Label>, ScoreError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScoreError::Io(name.clone(), e))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .ok_or_else(|| ScoreError::Labels {
                file: name.clone(),
                line: 1,
                message: format!("no column {n:?}"),
            })
    };
    let (cf, ct, ca, cpa, cb, cpb, capp) = (
        col("file")?,
        col("transport")?,
        col("addr_a")?,
        col("port_a")?,
        col("addr_b")?,
        col("port_b")?,
        col("app")?,
    );
    let cnote = header.iter().position(|h| *h == "note");
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let get = |c: usize| f.get(c).copied().unwrap_or("");
        let port = |c: usize| {
            get(c).parse::<i32>().map_err(|_| ScoreError::Labels {
                file: name.clone(),
                line: i + 1,
                message: format!("bad port {:?}", get(c)),
            })
        };
        let ends = BTreeSet::from([
            (canonical_addr(get(ca)), port(cpa)?),
            (canonical_addr(get(cb)), port(cpb)?),
        ]);
        let alts = cnote
            .map(|c| {
                get(c)
                    .split("; ")
                    .filter_map(|x| x.strip_prefix("alt="))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.push(Label {
            key: (get(cf).to_string(), get(ct).to_string(), ends),
            app: get(capp).to_string(),
            alts,
        });
    }
    Ok(out)
}

fn read_predictions(path: &Path) -> Result<HashMap<Key, (String, i64)>, ScoreError> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| ScoreError::Io(name.clone(), e))?;
    let bad = |e: String| ScoreError::Flows(name.clone(), e);
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| bad(e.to_string()))?
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut m: HashMap<Key, (String, i64)> = HashMap::new();
    for batch in reader {
        let b = batch.map_err(|e| bad(e.to_string()))?;
        let text = |n: &str| -> Result<Vec<String>, ScoreError> {
            let c = b
                .column_by_name(n)
                .ok_or_else(|| bad(format!("no column {n}")))?;
            let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)
                .map_err(|e| bad(e.to_string()))?;
            Ok(c.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or("").to_string())
                .collect())
        };
        let (iface, tr, src, dst, app) = (
            text("interface")?,
            text("transport")?,
            text("src_ip")?,
            text("dst_ip")?,
            text("app_protocol")?,
        );
        let sp = b
            .column_by_name("src_port")
            .ok_or_else(|| bad("no column src_port".into()))?
            .as_primitive::<Int32Type>()
            .clone();
        let dp = b
            .column_by_name("dst_port")
            .ok_or_else(|| bad("no column dst_port".into()))?
            .as_primitive::<Int32Type>()
            .clone();
        let pk = b
            .column_by_name("bidirectional_packets")
            .ok_or_else(|| bad("no column bidirectional_packets".into()))?
            .as_primitive::<Int64Type>()
            .clone();
        for i in 0..b.num_rows() {
            let file = Path::new(&iface[i])
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let key = (
                file,
                tr[i].clone(),
                BTreeSet::from([(src[i].clone(), sp.value(i)), (dst[i].clone(), dp.value(i))]),
            );
            let packets = if pk.is_null(i) { 0 } else { pk.value(i) };
            let e = m.entry(key).or_insert_with(|| (app[i].clone(), -1));
            if packets > e.1 {
                *e = (app[i].clone(), packets);
            }
        }
    }
    Ok(m)
}

/// Scores a flows file against a labels file.
///
/// # Errors
/// Either file is unreadable or malformed.
pub fn score(labels: &Path, flows: &Path) -> Result<Score, ScoreError> {
    let labels = read_labels(labels)?;
    let pred = read_predictions(flows)?;
    let mut s = Score::default();
    for l in labels.iter().filter(|l| l.app != "skip") {
        let p = match pred.get(&l.key) {
            Some((app, _)) => app.clone(),
            None => {
                s.missing += 1;
                "missing".to_string()
            }
        };
        let accepted = p == l.app || l.alts.contains(&p);
        s.scored += 1;
        s.correct += u64::from(accepted);
        let shown = if accepted { l.app.clone() } else { p };
        *s.confusion.entry((l.app.clone(), shown)).or_default() += 1;
    }
    Ok(s)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn precision_recall_and_accuracy() {
        let mut s = Score::default();
        s.confusion.insert(("rtp".into(), "rtp".into()), 8);
        s.confusion.insert(("rtp".into(), "srtp".into()), 2);
        s.confusion.insert(("srtp".into(), "srtp".into()), 5);
        s.scored = 15;
        s.correct = 13;
        let c = s.classes();
        assert_eq!(
            c["rtp"],
            ClassScore {
                support: 10,
                precision: 1.0,
                recall: 0.8
            }
        );
        assert!((c["srtp"].precision - 5.0 / 7.0).abs() < 1e-9);
        assert!((s.accuracy() - 13.0 / 15.0).abs() < 1e-9);
        let r = s.report();
        assert!(r.contains("accuracy 0.8667"), "{r}");
    }

    #[test]
    fn ipv6_labels_in_any_spelling_join_their_flows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.tsv");
        std::fs::write(&p, "file\ttransport\taddr_a\tport_a\taddr_b\tport_b\tapp\nx\tother\t2001:0DB8:0000:0000:0000:0000:0000:0001\t0\t2001:db8::2\t0\tipsec\n").unwrap();
        let l = read_labels(&p).unwrap();
        assert!(
            l[0].key.2.contains(&("2001:db8::1".to_string(), 0)),
            "{:?}",
            l[0].key
        );
    }

    #[test]
    fn malformed_labels_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.tsv");
        std::fs::write(&p, "file\ttransport\taddr_a\tport_a\taddr_b\tport_b\tapp\nx\ttcp\t1.1.1.1\tx\t2.2.2.2\t80\thttp\n").unwrap();
        let e = read_labels(&p).err().unwrap().to_string();
        assert!(e.ends_with("l.tsv:2: bad port \"x\""), "{e}");
        std::fs::write(&p, "file\ttransport\n").unwrap();
        assert!(read_labels(&p)
            .err()
            .unwrap()
            .to_string()
            .contains("no column \"addr_a\""));
    }
}
