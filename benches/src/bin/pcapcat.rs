//! Concatenates classic pcap files into one Ethernet capture on a single
//! monotonic timeline, for the real-traffic bench input
//! (`benches/make_real_input.sh`).
//!
//! Real test captures jump by years between (and inside) files and sometimes
//! go backwards; a capture of a live link does neither. Each gap between
//! consecutive packets is therefore kept as recorded but clamped to
//! `0..=--max-gap-us` (default 300 s: longer than the idle timeout, so a flow
//! that ended in the original still ends here), and each input starts 1 ms
//! after the previous one ended. Inputs of another link type are skipped with
//! a note. Records keep their captured bytes and wire length.
//!
//! `pcapcat [--append] [--start-us N] [--max-gap-us N] --out FILE INPUT...`
//! prints the last timestamp written (µs), the start for the next append.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;

const ETHERNET: u32 = 1;

struct Args {
    out: String,
    append: bool,
    start_us: i64,
    max_gap_us: i64,
    inputs: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        out: String::new(),
        append: false,
        start_us: 1_700_000_000_000_000,
        max_gap_us: 300_000_000,
        inputs: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<i64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--append" => a.append = true,
            "--start-us" => a.start_us = num("--start-us")?,
            "--max-gap-us" => a.max_gap_us = num("--max-gap-us")?,
            "--out" => a.out = it.next().ok_or("--out needs a path")?,
            _ => a.inputs.push(arg),
        }
    }
    if a.out.is_empty() {
        return Err(
            "usage: pcapcat [--append] [--start-us N] [--max-gap-us N] --out FILE INPUT...".into(),
        );
    }
    Ok(a)
}

/// How an input stores its fields.
struct Layout {
    big_endian: bool,
    nanos: bool,
    linktype: u32,
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

fn read_header(r: &mut impl Read) -> io::Result<Option<Layout>> {
    let mut h = [0u8; 24];
    r.read_exact(&mut h)?;
    let (big_endian, nanos) = match h.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => (false, false),
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => (true, false),
        Some([0x4d, 0x3c, 0xb2, 0xa1]) => (false, true),
        Some([0xa1, 0xb2, 0x3c, 0x4d]) => (true, true),
        _ => return Ok(None),
    };
    Ok(Some(Layout {
        big_endian,
        nanos,
        linktype: u32_at(&h, 20, big_endian),
    }))
}

/// Copies one input; returns the last output timestamp.
fn copy(
    path: &str,
    out: &mut impl Write,
    mut last_out: i64,
    max_gap_us: i64,
) -> Result<i64, String> {
    let err = |e: io::Error| format!("{path}: {e}");
    let mut r = BufReader::with_capacity(1 << 20, File::open(path).map_err(err)?);
    let Some(l) = read_header(&mut r).map_err(err)? else {
        eprintln!("pcapcat: {path}: not a classic pcap, skipped");
        return Ok(last_out);
    };
    if l.linktype != ETHERNET {
        eprintln!("pcapcat: {path}: link type {}, skipped", l.linktype);
        return Ok(last_out);
    }
    let mut prev_in: Option<i64> = None;
    let mut rec = [0u8; 16];
    let mut data = Vec::new();
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(err(e)),
        }
        let sec = i64::from(u32_at(&rec, 0, l.big_endian));
        let frac = i64::from(u32_at(&rec, 4, l.big_endian));
        let caplen = u32_at(&rec, 8, l.big_endian);
        let wire = u32_at(&rec, 12, l.big_endian);
        let t_in = sec * 1_000_000 + if l.nanos { frac / 1000 } else { frac };
        data.resize(caplen as usize, 0);
        r.read_exact(&mut data).map_err(err)?;
        let gap = prev_in.map_or(1_000, |p| (t_in - p).clamp(0, max_gap_us));
        prev_in = Some(t_in);
        last_out += gap;
        let mut h = [0u8; 16];
        let osec = u32::try_from(last_out.div_euclid(1_000_000)).unwrap_or(u32::MAX);
        let ousec = u32::try_from(last_out.rem_euclid(1_000_000)).unwrap_or(0);
        for (i, v) in [osec, ousec, caplen, wire].into_iter().enumerate() {
            if let Some(s) = h.get_mut(i * 4..i * 4 + 4) {
                s.copy_from_slice(&v.to_le_bytes());
            }
        }
        out.write_all(&h).map_err(err)?;
        out.write_all(&data).map_err(err)?;
    }
    Ok(last_out)
}

fn run() -> Result<i64, String> {
    let a = parse_args()?;
    let file = if a.append {
        OpenOptions::new().append(true).open(&a.out)
    } else {
        File::create(&a.out)
    }
    .map_err(|e| format!("{}: {e}", a.out))?;
    let mut out = BufWriter::with_capacity(4 << 20, file);
    if !a.append {
        let mut h = [0u8; 24];
        for (at, v) in [(0, 0xa1b2_c3d4u32), (16, 262_144), (20, ETHERNET)] {
            if let Some(s) = h.get_mut(at..at + 4) {
                s.copy_from_slice(&v.to_le_bytes());
            }
        }
        if let Some(s) = h.get_mut(4..8) {
            s.copy_from_slice(&[2, 0, 4, 0]);
        }
        out.write_all(&h).map_err(|e| e.to_string())?;
    }
    let mut last = a.start_us;
    for p in &a.inputs {
        last = copy(p, &mut out, last, a.max_gap_us)?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(last)
}

fn main() -> ExitCode {
    match run() {
        Ok(last) => {
            println!("{last}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pcapcat: {e}");
            ExitCode::FAILURE
        }
    }
}
