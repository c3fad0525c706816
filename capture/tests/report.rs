//! `pathlens report` of an input spanning two decades (the sample capture
//! shifted to 2005 and 2015, and as it is in 2026), rendered by headless
//! Chromium: every chart colours a path or a verdict with its palette
//! colour, the time axis carries dated ticks in order, every chart shows
//! its title, the media table carries the figures of
//! `pathlens summary --format json`, and the listings sort in the browser.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use pathlens_benches::pcap::PcapFile;
use pathlens_export::report::PALETTE;
use std::path::Path;
use std::process::Command;
use support::*;

/// The sample capture with every timestamp moved to start at `start_s`
/// (seconds since the epoch), written to `out`.
fn shifted_sample(out: &Path, start_s: i64) {
    let b = std::fs::read(repo().join("testdata/sample.pcap")).unwrap();
    assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian µs pcap");
    let le = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let mut w = PcapFile::create(out, le(20), le(16));
    let mut pos = 24;
    let mut first = None;
    while pos + 16 <= b.len() {
        let ts = i64::from(le(pos)) * 1_000_000 + i64::from(le(pos + 4));
        let caplen = le(pos + 8) as usize;
        let t0 = *first.get_or_insert(ts);
        w.frame(
            start_s * 1_000_000 + ts - t0,
            &b[pos + 16..pos + 16 + caplen],
        );
        pos += 16 + caplen;
    }
    w.finish();
}

fn run(args: &[&str]) -> String {
    let o = pathlens(args);
    assert!(
        o.status.success(),
        "pathlens {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn chromium(url: &str, extra: &[&str]) -> String {
    let o = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium is needed by this test; the README's test command installs it");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The value of attribute `name` in the tag starting at `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let end = tag.find('>').unwrap_or(tag.len());
    let t = &tag[..end];
    let k = format!(" {name}=\"");
    let i = t.find(&k)? + k.len();
    Some(&t[i..i + t[i..].find('"')?])
}

/// The text of every `<td>` of each row of table `id`.
fn table_cells(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom.find(&format!("<table id=\"{id}\"")).unwrap();
    let t = &dom[start..start + dom[start..].find("</table>").unwrap()];
    let body = &t[t.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    c[..c.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

#[test]
fn report_of_two_decades_has_one_colour_per_path_dated_ticks_and_the_summarys_figures() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    for (name, start) in [("2005.pcap", 1_109_700_000), ("2015.pcap", 1_435_800_000)] {
        let p = dir.path().join(name);
        shifted_sample(&p, start);
        inputs.push(p.to_str().unwrap().to_string());
    }
    inputs.push(repo().join("testdata/sample.pcap").to_str().unwrap().into());
    let out = dir.path().join("decades.parquet");
    let mut args: Vec<&str> = vec!["read"];
    args.extend(inputs.iter().map(String::as_str));
    let site = repo().join("testdata/sample-site.toml");
    args.extend([
        "--config",
        site.to_str().unwrap(),
        "-w",
        out.to_str().unwrap(),
    ]);
    run(&args);
    let html = dir.path().join("report.html");
    run(&[
        "report",
        out.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_str(&run(&[
        "summary",
        "--format",
        "json",
        out.to_str().unwrap(),
    ]))
    .unwrap();

    let url = format!("file://{}", html.display());
    let dom = chromium(&url, &["--dump-dom"]);

    // Every chart: a visible title, and each series in its palette colour.
    let charts: Vec<&str> = dom.split("<svg").skip(1).collect();
    assert_eq!(
        charts.len(),
        6,
        "type, time, loss, jitter, verdict, talkers"
    );
    let mut seen = std::collections::BTreeSet::new();
    for c in &charts {
        let title = c
            .split("class=\"chart-title\"")
            .nth(1)
            .expect("a visible title");
        assert!(title[title.find('>').unwrap() + 1..].starts_with(char::is_alphabetic));
        for tag in c.split("<rect").skip(1) {
            let Some(series) = attr(tag, "data-series") else {
                continue;
            };
            let fill = attr(tag, "fill").unwrap();
            // `expressroute (predicted)` is still an ExpressRoute path.
            let base = series.split(" (").next().unwrap();
            let want = PALETTE.iter().find(|(n, _)| *n == base).map(|(_, c)| *c);
            assert_eq!(Some(fill), want, "{series} is {fill} in a chart");
            seen.insert(base.to_string());
        }
    }
    for s in ["expressroute", "internet", "local", "good"] {
        assert!(seen.contains(s), "{s} drawn: {seen:?}");
    }

    // The time axis: dated ticks (years, for two decades), in order, left to right.
    let time = charts[1];
    let ticks: Vec<(f64, String)> = time
        .split("<text class=\"tick\"")
        .skip(1)
        .map(|t| {
            let x: f64 = attr(t, "x").unwrap().parse().unwrap();
            let first = t.split("<tspan").nth(1).unwrap();
            let label = &first[first.find('>').unwrap() + 1..first.find("</tspan>").unwrap()];
            (x, label.to_string())
        })
        .collect();
    let years: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(years, ["2010", "2015", "2020", "2025"], "{ticks:?}");
    assert!(ticks.windows(2).all(|w| w[0].0 < w[1].0), "{ticks:?}");

    // The media table holds the summary's figures under the same names.
    let rows = table_cells(&dom, "media");
    let media = json["media"].as_array().unwrap();
    assert_eq!(rows.len(), media.len());
    assert!(!rows.is_empty());
    for (r, m) in rows.iter().zip(media) {
        assert_eq!(r[0], m["egress"].as_str().unwrap());
        assert_eq!(r[1], m["streams"].to_string());
        assert_eq!(r[2], m["windowed"].to_string());
        let keys = [
            "loss_window_p50",
            "loss_window_p90",
            "loss_window_p95",
            "jitter_window_p50",
            "jitter_window_p90",
            "jitter_window_p95",
        ];
        for (i, k) in keys.iter().enumerate() {
            let want = m[k].as_f64().map_or("-".into(), |v| format!("{v:.2}"));
            assert_eq!(r[3 + i], want, "{k} of {}", r[0]);
        }
        assert_eq!(r[9], m["judged"].to_string());
        assert_eq!(r[10], m["poor"].to_string());
    }
    // Every table of the summary's JSON has its table in the page.
    for id in [
        "by_app",
        "by_egress",
        "services",
        "server_names",
        "media",
        "edges",
        "round_trips",
        "media_dscp",
    ] {
        assert!(dom.contains(&format!("id=\"t-{id}\"")), "{id}");
    }

    // Sorting: a click on a heading orders the rows by that column's numbers.
    let page = std::fs::read_to_string(&html).unwrap();
    let clicked = dir.path().join("clicked.html");
    std::fs::write(
        &clicked,
        page.replace(
            "</body>",
            "<script>document.querySelector('#by_app th:nth-child(4)').click()</script></body>",
        ),
    )
    .unwrap();
    let sorted = chromium(&format!("file://{}", clicked.display()), &["--dump-dom"]);
    let packets: Vec<u64> = table_cells(&sorted, "by_app")
        .iter()
        .map(|r| r[3].parse().unwrap())
        .collect();
    assert!(packets.windows(2).all(|w| w[0] <= w[1]), "{packets:?}");
    assert_ne!(
        packets,
        table_cells(&dom, "by_app")
            .iter()
            .map(|r| r[3].parse::<u64>().unwrap())
            .collect::<Vec<_>>(),
        "the click changed the order"
    );

    // The screenshot: each path's colour is on screen.
    let png = dir.path().join("report.png");
    chromium(
        &url,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1100,2400",
        ],
    );
    let mut args = vec![png.to_str().unwrap().to_string()];
    args.extend(PALETTE.iter().map(|(_, c)| c.to_string()));
    let o = Command::new("python3")
        .arg(repo().join("capture/tests/python/check_png.py"))
        .args(&args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let pixels = |c: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("colour {c} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    for (name, c) in &PALETTE[..3] {
        assert!(pixels(c) > 200, "{name} {c} on screen: {out}");
    }
    if let Some(keep) = std::env::var_os("PATHLENS_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}
