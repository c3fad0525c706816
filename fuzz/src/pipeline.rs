//! The whole pipeline over an in-memory source.

use super::*;

/// Frames of a [`MemorySource`]: (time in µs, wire length, bytes).
pub type Frames = Vec<(i64, u32, Vec<u8>)>;

/// Splits a `pipeline` input: byte 0 chooses the link type (low nibble, as
/// for `decode`) and the worker count (bit 4: two workers), then frames
/// follow, each as a 1-byte time step in ms, a 1-byte snap cut (bytes of the
/// frame not captured) and a 2-byte big-endian length.
pub fn split_pipeline_input(data: &[u8]) -> Option<(LinkType, usize, Frames)> {
    let (&sel, mut rest) = data.split_first()?;
    let link = LINKS
        .get(usize::from(sel & 0x0f) % LINKS.len())
        .copied()
        .unwrap_or(LinkType::Ethernet);
    let workers = 1 + usize::from((sel >> 4) & 1);
    let mut frames = Vec::new();
    let mut ts = 1_700_000_000_000_000i64;
    while let Some((h, tail)) = rest.split_first_chunk::<4>() {
        let [step, cut, hi, lo] = *h;
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        ts = ts.saturating_add(i64::from(step) * 1_000);
        let wire = u32::try_from(frame.len()).unwrap_or(u32::MAX) + u32::from(cut);
        frames.push((ts, wire, frame.to_vec()));
        rest = tail;
    }
    Some((link, workers, frames))
}

/// Runs a whole pipeline over the frames of a `pipeline` input (no output
/// file) and checks that every frame is accounted for once and that the
/// flow records hold every decoded packet.
pub fn check_pipeline(data: &[u8]) -> Option<u64> {
    let (link, workers, frames) = split_pipeline_input(data)?;
    let dlt = match link {
        LinkType::Ethernet => 1,
        LinkType::Null => 0,
        LinkType::Loop => 108,
        LinkType::Raw => 101,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::LinuxSll => 113,
        LinkType::LinuxSll2 => 276,
        LinkType::CiscoHdlc => 104,
        LinkType::Ppp => 9,
        LinkType::PppHdlc => 50,
        LinkType::PppEther => 51,
        LinkType::PppWithDir => 204,
        LinkType::CiscoHdlcWithDir => 205,
    };
    let n = frames.len() as u64;
    let src: Box<dyn PacketSource> = Box::new(MemorySource::new("fuzz", dlt, frames));
    let opts = RunOptions {
        decap: pathlens::decode::Decap::default(),
        workers,
        flow: FlowConfig {
            capacity: 4,
            idle_us: 50_000,
            active_us: 200_000,
            close_linger_us: 10_000,
            scan_every_us: 20_000,
            ..FlowConfig::default()
        },
        output: None,
        dataset: false,
        writer: pathlens_export::WriterOptions {
            compression: pathlens_export::Compression::default(),
            run_id: "fuzz".into(),
            sensor: "fuzz".into(),
            store: None,
        },
        metadata: Vec::new(),
        observer: None,
        reload: None,
    };
    let sources: Vec<Result<Box<dyn PacketSource>, SourceError>> = vec![Ok(src)];
    let report = run(sources, &opts, builtin_context(), &mut ());
    assert!(
        !report.failed(),
        "{:?} {:?}",
        report.failures,
        report.output_error
    );
    let rc = &report.counters.read;
    assert_eq!(rc.packets_read, n);
    assert_eq!(
        rc.packets_decoded + rc.not_ip + rc.malformed_total(),
        rc.packets_read,
        "frames not accounted for: {rc:?}"
    );
    assert!(rc.fragments_untracked <= rc.fragments);
    assert_eq!(
        report.summary.total.packets, rc.packets_decoded,
        "decoded packets missing from the records"
    );
    assert_eq!(report.summary.total.flows, report.counters.records_written);
    Some(rc.packets_decoded)
}
