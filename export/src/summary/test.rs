//! Tests of the aggregation and its text tables.

use super::*;

#[test]
fn groups_and_totals() {
    let mut s = Summary::default();
    let a = FlowRecord::example();
    let mut b = FlowRecord::example();
    b.transport = pathlens_classify::Transport::Udp;
    s.add(&a);
    s.add(&a);
    s.add(&b);
    assert_eq!(s.total.flows, 3);
    assert_eq!(s.total.packets, 3 * 18);
    let t = s.by_app[&("https".to_string(), "tcp".to_string())];
    assert_eq!((t.flows, t.bytes), (2, 10_000));
    let table = s.table();
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("https          tcp"),
        "{table}"
    );
    assert!(table.contains("total"));
    assert!(s
        .table_text("media")
        .starts_with("RTP streams: not measured"));
}

#[test]
fn percentiles_and_media_groups() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), Some(50.0));
    assert_eq!(percentile(&v, 95.0), Some(95.0));
    assert_eq!(percentile(&[], 50.0), None);
    use pathlens_classify::media::MediaTracker;
    let mut t = MediaTracker::new();
    for i in 0..100u16 {
        if i == 7 {
            continue;
        }
        let mut p = vec![0x80, 0];
        p.extend(i.to_be_bytes());
        p.extend((u32::from(i) * 160).to_be_bytes());
        p.extend(9u32.to_be_bytes());
        t.feed(pathlens_classify::Side::Src2Dst, i64::from(i) * 20_000, &p);
    }
    let rules = pathlens_classify::media::QualityRules::builtin().unwrap();
    let m = crate::MediaFields::from_tracker(1, &t, &rules, &|_, _| None, &|side| {
        pathlens_classify::outcome::SensorPosition::Inside.leg(
            side,
            (true, false),
            pathlens_classify::egress::Egress::ExpressRoute,
        )
    });
    let mut s = Summary::default();
    let mut r = FlowRecord::example();
    r.labels.egress.egress = pathlens_classify::egress::Egress::ExpressRoute;
    r.labels.egress.observed_egress = Some(pathlens_classify::egress::Egress::ExpressRoute);
    s.add_streams(&r, &m.streams);
    assert!(!s.media.contains_key("outbound"), "grouped by egress");
    let g = &s.media["expressroute"];
    assert_eq!((g.loss_pct.len(), g.judged, g.poor), (1, 1, 0));
    assert_eq!(g.loss_pct[0], 1.0);
    // Two seconds: one 15 s window, counted (100 expected, at least 50).
    assert_eq!(g.loss_window_pct, vec![1.0]);
    assert_eq!(g.jitter_window_ms, vec![0.0]);
    let table = s.table_text("media");
    assert!(
        table.lines().nth(1).unwrap().starts_with(
            "expressroute                     1        1     1.00     1.00     1.00       0.00"
        ),
        "{table}"
    );
    let json = s.json();
    assert_eq!(json["media"][0]["loss_window_p90"], 1.0);
    assert_eq!(json["media"][0]["windowed"], 1);
}

/// The media percentiles are of each stream's worst window, as Microsoft
/// reports the 90th percentile of per-interval figures: a stream without a
/// counted window is in `streams` but not in the percentiles.
#[test]
fn media_percentiles_are_of_worst_windows() {
    let mut s = Summary::default();
    for i in 0..10 {
        s.add_stream(
            "internet",
            &StreamRow {
                packets: 1000,
                loss_pct: 0.1,
                jitter_mean_ms: Some(1.0),
                loss_window_pct: Some(f64::from(i)),
                jitter_window_ms: Some(f64::from(i) * 10.0),
                poor: Some(i > 0),
                ..StreamRow::default()
            },
        );
    }
    s.add_stream(
        "internet",
        &StreamRow {
            packets: 40,
            loss_pct: 50.0,
            jitter_mean_ms: None,
            loss_window_pct: None,
            jitter_window_ms: None,
            poor: None,
            ..StreamRow::default()
        },
    );
    let json = s.json();
    let m = &json["media"][0];
    assert_eq!(
        (m["streams"].as_u64(), m["windowed"].as_u64()),
        (Some(11), Some(10))
    );
    assert_eq!(m["loss_window_p50"], 4.0);
    assert_eq!(m["loss_window_p90"], 8.0);
    assert_eq!(m["jitter_window_p95"], 90.0);
    assert!(
        s.csv().contains("media,internet,,loss_window_p90,8\n"),
        "{}",
        s.csv()
    );
}

#[test]
fn egress_groups_and_path_counts() {
    use pathlens_classify::egress::{Egress, ExpectedPath};
    let mut s = Summary::default();
    let mut a = FlowRecord::example();
    a.labels.traffic_type = pathlens_classify::TrafficType::Media;
    a.labels.egress.egress = Egress::ExpressRoute;
    a.labels.egress.asymmetric = Some(true);
    a.labels.egress.expected_path = Some(ExpectedPath::ExpressRoute);
    a.labels.egress.path_conformant = Some(false);
    // Predicted ExpressRoute, observed on the Internet: counted as observed.
    a.labels.egress.observed_egress = Some(Egress::Internet);
    let mut b = FlowRecord::example();
    b.labels.egress.egress = Egress::Internet;
    b.labels.egress.asymmetric = Some(false);
    b.labels.egress.expected_path = Some(ExpectedPath::Internet);
    s.add(&a);
    s.add(&a);
    s.add(&b);
    let t = s.by_egress[&("media".to_string(), "internet".to_string())];
    assert_eq!((t.flows, t.bytes), (2, 10_000));
    assert_eq!(
        s.by_egress[&("web".to_string(), "internet (predicted)".to_string())].flows,
        1
    );
    assert_eq!((s.judged_observed, s.expected_only), (2, 1));
    assert_eq!(
        (s.asymmetric, s.non_conformant, s.with_expectation),
        (2, 2, 3)
    );
    let table = s.table_text("by_egress");
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("media             internet  "),
        "{table}"
    );
    assert!(
        table.contains("asymmetric flows: 2 of 3 measured"),
        "{table}"
    );
    assert!(
        table.contains("call-flow conformance: 2 of 2 flows judged on observed evidence non-conformant; 1 only predicted (no path observed); 0 without an expectation"),
        "{table}"
    );
}

/// Issue 18: a count of 0 where nothing could be measured read as "none
/// found"; the summary says "not measured" instead.
#[test]
fn issue18_unmeasured_paths_and_media_say_not_measured() {
    let mut s = Summary::default();
    s.add(&FlowRecord::example());
    let table = s.table();
    assert!(
        table.contains("asymmetric flows: not measured (no flow crossed a configured edge router both ways)\ncall-flow conformance: not measured"),
        "{table}"
    );
    assert!(
        table.contains("RTP streams: not measured (no RTP stream in these flows)"),
        "{table}"
    );
}

#[test]
fn predicted_labels_are_the_egress_value_and_predicted() {
    use pathlens_classify::egress::Egress;
    let all = [
        Egress::Local,
        Egress::ExpressRoute,
        Egress::Internet,
        Egress::Unknown,
    ];
    for e in all {
        assert!(
            PREDICTED.contains(&(e.as_str(), &format!("{} (predicted)", e.as_str()))),
            "{e:?}"
        );
    }
    assert_eq!(PREDICTED.len(), all.len());
}
