//! Issue 11 ("Say Teams only where it is Teams"): precision and recall of
//! `service = skype_teams` and `service = exchange` over the real corpus,
//! against the nDPI labels of `testdata/corpus/labels.tsv`.
//!
//! A row joins its label on (file, transport, unordered endpoint pair); the
//! corpus is read with timeouts off, as the labels never split a flow, and a
//! labelled flow that still ends up in several rows (a SYN after a refused
//! connection) counts as claiming a service when any of its rows does.
//!
//! What counts as right is decided from the `ndpi_label` values the corpus
//! really holds (`cut -f8 labels.tsv | sort | uniq -c`): the application part
//! (after the dot, `STUN.Skype_TeamsCall` -> `Skype_TeamsCall`) falls in one
//! family:
//!
//! | family | nDPI names | right for |
//! |---|---|---|
//! | Teams | Skype_Teams, Skype_TeamsCall, Skype, SkypeCall, Teams, TeamsCall | skype_teams |
//! | Exchange | Outlook, Hotmail, Exchange | exchange |
//! | SharePoint | MS_OneDrive, OneDrive, SharePoint | neither |
//! | Office 365 | Microsoft365, Office365 | both |
//! | Microsoft | Microsoft, Azure | both |
//! | Microsoft, not Office 365 | Xbox, LinkedIn, WindowsUpdate, Bing, MSN, Github | neither |
//! | anything else | (including OCS: nDPI's OCS is a French TV service, not Office Communications Server) | neither |
//!
//! Why: a label naming a workload (Teams, Outlook, OneDrive) says which
//! service the flow is, so a claim of another workload is wrong; nDPI puts
//! hosts of every Office 365 workload under Microsoft365, and Microsoft or
//! Azure are what it says for Microsoft hosts and address blocks it has no
//! finer name for (Teams relays in Azure space, `*.microsoft.com`): those do
//! not refute either claim, and the issue counts a Microsoft-family label as
//! right. Consumer products (Xbox, LinkedIn, Windows Update) are Microsoft
//! but none of the Office 365 services `service` names.
//!
//! A label that names only a protocol (`TLS`, `STUN`, `IMAPS`, `Unknown`...)
//! says nothing about the service; for those the Office 365 endpoint list
//! decides (Microsoft's own statement of which service an address and port
//! serve: Skype -> Teams, Exchange -> Exchange, SharePoint, Common ->
//! Microsoft), else the flow is not Microsoft. In this corpus that makes the
//! two `TLS` flows to 52.98.163.18:443 (Exchange Online, set 1) Exchange.
//! A flow nDPI does not list (`-`) is not scored.
//!
//! Recall counts the flows whose family is the service's own (Teams for
//! skype_teams, Exchange for exchange). The issue's bar: precision 0.95 and
//! recall 0.90 for each service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

#[path = "support/o365_list.rs"]
mod o365_list;
mod support;

use o365_list::O365List;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use support::*;

const MIN_PRECISION: f64 = 0.95;
const MIN_RECALL: f64 = 0.90;

const TEAMS: &[&str] = &[
    "Skype_Teams",
    "Skype_TeamsCall",
    "Skype",
    "SkypeCall",
    "Teams",
    "TeamsCall",
];
const EXCHANGE: &[&str] = &["Outlook", "Hotmail", "Exchange"];
const SHAREPOINT: &[&str] = &["MS_OneDrive", "OneDrive", "SharePoint"];
const OFFICE365: &[&str] = &["Microsoft365", "Office365"];
const MICROSOFT: &[&str] = &["Microsoft", "Azure"];
const MICROSOFT_NOT_O365: &[&str] = &["Xbox", "LinkedIn", "WindowsUpdate", "Bing", "MSN", "Github"];
/// Labels that name a protocol and no application.
const BARE: &[&str] = &[
    "TLS", "HTTP", "QUIC", "DTLS", "STUN", "RTP", "SRTP", "RTCP", "SIP", "SMTP", "SMTPS", "IMAP",
    "IMAPS", "POP3", "POPS", "Unknown",
];

/// What a labelled flow really is, as far as `service` goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Truth {
    Teams,
    Exchange,
    SharePoint,
    Office365,
    Microsoft,
    MicrosoftNotO365,
    NotMicrosoft,
    Unjudged,
}

impl Truth {
    fn right_for(self, service: &str) -> bool {
        match service {
            "skype_teams" => matches!(self, Truth::Teams | Truth::Office365 | Truth::Microsoft),
            "exchange" => matches!(self, Truth::Exchange | Truth::Office365 | Truth::Microsoft),
            _ => false,
        }
    }

    fn own(service: &str) -> Truth {
        match service {
            "skype_teams" => Truth::Teams,
            "exchange" => Truth::Exchange,
            _ => Truth::Unjudged,
        }
    }
}

type Ends = [(IpAddr, u16); 2];
type Key = (String, String, Ends);

fn key(file: &str, transport: &str, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
    let mut ends = [a, b];
    ends.sort();
    (file.to_string(), transport.to_string(), ends)
}

fn truth(label: &str, transport: &str, ends: &Ends, o365: &O365List) -> Truth {
    if label == "-" {
        return Truth::Unjudged;
    }
    if BARE.contains(&label) {
        let area = ends
            .iter()
            .find_map(|&(a, p)| o365.area_of(a, transport, p));
        return match area {
            Some("Skype") => Truth::Teams,
            Some("Exchange") => Truth::Exchange,
            Some("SharePoint") => Truth::SharePoint,
            Some(_) => Truth::Microsoft,
            None => Truth::NotMicrosoft,
        };
    }
    let app = label.rsplit_once('.').map_or(label, |(_, a)| a);
    let families = [
        (TEAMS, Truth::Teams),
        (EXCHANGE, Truth::Exchange),
        (SHAREPOINT, Truth::SharePoint),
        (OFFICE365, Truth::Office365),
        (MICROSOFT, Truth::Microsoft),
        (MICROSOFT_NOT_O365, Truth::MicrosoftNotO365),
    ];
    families
        .iter()
        .find(|(names, _)| names.contains(&app))
        .map_or(Truth::NotMicrosoft, |&(_, t)| t)
}

/// One labelled flow and the rows pathlens wrote for it.
struct Flow {
    label: String,
    app: String,
    truth: Truth,
    rows: Vec<String>,
    services: Vec<String>,
}

/// The figures for one service.
struct Score {
    claimed: usize,
    right: usize,
    relevant: usize,
    found: usize,
    report: String,
}

impl Score {
    fn precision(&self) -> f64 {
        if self.claimed == 0 {
            1.0
        } else {
            self.right as f64 / self.claimed as f64
        }
    }

    fn recall(&self) -> f64 {
        if self.relevant == 0 {
            1.0
        } else {
            self.found as f64 / self.relevant as f64
        }
    }

    fn passes(&self) -> bool {
        self.precision() >= MIN_PRECISION && self.recall() >= MIN_RECALL
    }
}

fn score(service: &'static str, flows: &BTreeMap<Key, Flow>) -> Score {
    let mut s = Score {
        claimed: 0,
        right: 0,
        relevant: 0,
        found: 0,
        report: String::new(),
    };
    let mut wrong = String::new();
    let mut missed = String::new();
    for (k, f) in flows {
        if f.truth == Truth::Unjudged {
            continue;
        }
        let claims = f.services.iter().any(|x| x == service);
        let line = |f: &Flow| {
            format!(
                "  {} {} {}:{} {}:{}  label {} ({:?}, app {})\n{}",
                k.0,
                k.1,
                k.2[0].0,
                k.2[0].1,
                k.2[1].0,
                k.2[1].1,
                f.label,
                f.truth,
                f.app,
                f.rows
                    .iter()
                    .map(|r| format!("      pathlens: {r}\n"))
                    .collect::<String>()
            )
        };
        if claims {
            s.claimed += 1;
            if f.truth.right_for(service) {
                s.right += 1;
            } else {
                wrong.push_str(&line(f));
            }
        }
        if f.truth == Truth::own(service) {
            s.relevant += 1;
            if claims {
                s.found += 1;
            } else {
                missed.push_str(&line(f));
            }
        }
    }
    let _ = writeln!(
        s.report,
        "service = {service}: precision {}/{} = {:.2}, recall {}/{} = {:.2} (bar: {MIN_PRECISION} / {MIN_RECALL})",
        s.right,
        s.claimed,
        s.precision(),
        s.found,
        s.relevant,
        s.recall()
    );
    if !wrong.is_empty() {
        let _ = writeln!(s.report, " wrongly {service}:\n{wrong}");
    }
    if !missed.is_empty() {
        let _ = writeln!(s.report, " {service} missed:\n{missed}");
    }
    s
}

fn labelled(o365: &O365List) -> BTreeMap<Key, Flow> {
    let text = std::fs::read_to_string(corpus().join("labels.tsv")).unwrap();
    let mut m = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let end = |a: &str, p: &str| (a.parse::<IpAddr>().unwrap(), p.parse::<u16>().unwrap());
        let k = key(f[0], f[1], end(f[2], f[3]), end(f[4], f[5]));
        let truth = truth(f[7], f[1], &k.2, o365);
        m.insert(
            k,
            Flow {
                label: f[7].to_string(),
                app: f[6].to_string(),
                truth,
                rows: Vec::new(),
                services: Vec::new(),
            },
        );
    }
    m
}

#[test]
fn issue_11_service_precision_and_recall_on_the_corpus() {
    let o365_path = corpus().join("o365/endpoints-worldwide.json");
    let o365 = O365List::load(&o365_path);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("corpus.parquet");
    read_ok(
        &[
            corpus().join("pcap").to_str().unwrap(),
            "--o365",
            o365_path.to_str().unwrap(),
            // Timeouts off: the labels never split a flow.
            "--idle-timeout",
            "100d",
            "--active-timeout",
            "100d",
            "--workers",
            "2",
        ],
        &out,
    );
    let b = read_batches(&out);
    let col = |n: &str| column_text(&b, n);
    let (iface, transport) = (col("interface"), col("transport"));
    let (src, sport, dst, dport) = (
        col("src_ip"),
        col("src_port"),
        col("dst_ip"),
        col("dst_port"),
    );
    let (service, app, source, traffic, name) = (
        col("service"),
        col("app_protocol"),
        col("app_protocol_source"),
        col("traffic_type"),
        col("server_name"),
    );
    let mut flows = labelled(&o365);
    let mut not_scored = Vec::new();
    for i in 0..rows(&b) {
        let file = Path::new(&iface[i])
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let end = |a: &str, p: &str| (a.parse::<IpAddr>().unwrap(), p.parse::<u16>().unwrap());
        let k = key(
            &file,
            &transport[i],
            end(&src[i], &sport[i]),
            end(&dst[i], &dport[i]),
        );
        let row = format!(
            "{}:{} -> {}:{} app {} ({}) traffic {} service {} sni {}",
            src[i],
            sport[i],
            dst[i],
            dport[i],
            app[i],
            source[i],
            traffic[i],
            if service[i].is_empty() {
                "-"
            } else {
                &service[i]
            },
            if name[i].is_empty() { "-" } else { &name[i] },
        );
        match flows.get_mut(&k) {
            Some(f) => {
                f.rows.push(row);
                if !service[i].is_empty() {
                    f.services.push(service[i].clone());
                }
            }
            None if !service[i].is_empty() => not_scored.push(format!("{file} {row}")),
            None => {}
        }
    }
    let matched = flows.values().filter(|f| !f.rows.is_empty()).count();
    assert!(
        matched >= 340,
        "only {matched} of {} labelled flows joined a row: the join is broken",
        flows.len()
    );
    let scores = [score("skype_teams", &flows), score("exchange", &flows)];
    // The corpus holds 4 Teams flows (3 STUN.Skype_TeamsCall, TLS.Teams) and
    // 3 Exchange flows (TLS.Outlook, 2 x TLS to Exchange Online): fewer means
    // the mapping lost some, and recall would pass on nothing.
    assert!(
        scores[0].relevant >= 4 && scores[1].relevant >= 3,
        "Teams flows {}, Exchange flows {}: the label mapping lost some",
        scores[0].relevant,
        scores[1].relevant
    );
    let mut report = String::new();
    for s in &scores {
        report.push_str(&s.report);
    }
    if !not_scored.is_empty() {
        let _ = writeln!(
            report,
            " rows with a service and no label (not scored):\n  {}",
            not_scored.join("\n  ")
        );
    }
    println!("{report}");
    let summary: Vec<&str> = scores
        .iter()
        .filter_map(|s| s.report.lines().next())
        .collect();
    assert!(
        scores.iter().all(Score::passes),
        "issue 11: service precision/recall under the bar (wrong and missed flows printed above)\n{}",
        summary.join("\n")
    );
}
