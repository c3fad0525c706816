//! Writes a copy of a classic Ethernet pcap with every frame wrapped in
//! outer Ethernet/IPv4/UDP 4789/VXLAN, one VNI for all (the VXLAN bench
//! input, `benches/make_vxlan_input.sh`; see `pathlens_benches::rewrap`).
//!
//! `vxlanwrap [--vni N] INPUT OUTPUT` (default VNI 5001) prints the number
//! of frames written.

use pathlens_benches::rewrap::vxlan_pcap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

fn run() -> Result<u64, String> {
    let mut vni = 5001u32;
    let mut paths = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--vni" {
            vni = it
                .next()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v < 1 << 24)
                .ok_or("--vni needs a number below 2^24")?;
        } else {
            paths.push(a);
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err("usage: vxlanwrap [--vni N] INPUT OUTPUT".into());
    };
    let r = File::open(input).map_err(|e| format!("{input}: {e}"))?;
    let w = File::create(output).map_err(|e| format!("{output}: {e}"))?;
    vxlan_pcap(
        BufReader::with_capacity(4 << 20, r),
        BufWriter::with_capacity(4 << 20, w),
        vni,
    )
    .map_err(|e| format!("{input}: {e}"))
}

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vxlanwrap: {e}");
            ExitCode::FAILURE
        }
    }
}
