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
    assert_eq!(s.media_table(), "");
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
    let m = crate::MediaFields::from_tracker(1, &t, &rules, &|_, _| None);
    let mut s = Summary::default();
    let mut r = FlowRecord::example();
    r.labels.egress.egress = pathlens_classify::egress::Egress::ExpressRoute;
    s.add_streams(&r, &m.streams);
    assert!(!s.media.contains_key("outbound"), "grouped by egress");
    let g = &s.media["expressroute"];
    assert_eq!((g.loss_pct.len(), g.judged, g.poor), (1, 1, 0));
    assert_eq!(g.loss_pct[0], 1.0);
    let table = s.media_table();
    assert!(
        table.lines().nth(1).unwrap().starts_with("expressroute"),
        "{table}"
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
    let mut b = FlowRecord::example();
    b.labels.egress.egress = Egress::Internet;
    b.labels.egress.asymmetric = Some(false);
    s.add(&a);
    s.add(&a);
    s.add(&b);
    let t = s.by_egress[&("media".to_string(), "expressroute".to_string())];
    assert_eq!((t.flows, t.bytes), (2, 10_000));
    assert_eq!(
        s.by_egress[&("web".to_string(), "internet".to_string())].flows,
        1
    );
    assert_eq!(
        (s.asymmetric, s.non_conformant, s.with_expectation),
        (2, 2, 2)
    );
    let table = s.egress_table();
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("media             expressroute"),
        "{table}"
    );
    assert!(
        table.contains("asymmetric flows: 2 of 3 measured; non-conformant flows: 2 of 2"),
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
        table.contains("asymmetric flows: not measured (no flow crossed a configured edge router both ways); non-conformant flows: not measured"),
        "{table}"
    );
    assert!(
        table.contains("RTP streams: not measured (no RTP stream in these flows)"),
        "{table}"
    );
}
