//! The checks `read` makes before any packet is read, so a mistake costs
//! one clear error and writes nothing: bounds of numeric flags, where the
//! filter expression is (after `-r` inputs, as tcpdump takes it, or `-f`),
//! whether it compiles, and whether the output may be written.

use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};

/// Most `--workers`. The reader is one thread and feeds a few cores at most
/// (it decodes every packet), and every worker costs a thread, a flow table
/// and a batch per capture second, so far more workers than cores only
/// slow a run down; 256 still covers the largest machines' core counts.
pub const MAX_WORKERS: usize = 256;

/// Parses `--workers`: 1 to [`MAX_WORKERS`].
///
/// # Errors
/// Not a number, 0, or above the maximum.
pub fn parse_workers(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    match n {
        0 => Err("at least 1 worker is needed".into()),
        n if n > MAX_WORKERS => Err(format!(
            "at most {MAX_WORKERS} workers (more than the cores only adds threads that wait)"
        )),
        n => Ok(n),
    }
}

/// Parses `--max-flows`: at least 1.
///
/// # Errors
/// Not a number, or 0 (a table that holds no flow cannot classify any).
pub fn parse_max_flows(s: &str) -> Result<usize, String> {
    match s.parse::<usize>().map_err(|e| format!("{e}"))? {
        0 => Err("must be at least 1: a table that holds no flow cannot classify any".into()),
        n => Ok(n),
    }
}

/// Splits the positional arguments into inputs and a filter: with `-r`,
/// positionals that are not all existing paths are a BPF expression, as
/// `tcpdump -r x.pcap udp port 53` takes it; without `-r`, a positional
/// that is neither a file nor a directory is an error that says how to
/// give a filter. Returns (inputs, filter).
///
/// # Errors
/// A positional that is no file without `-r`, or a filter given twice.
pub fn split_filter(
    read_files: &[PathBuf],
    positionals: &[PathBuf],
    filter: Option<String>,
) -> Result<(Vec<PathBuf>, Option<String>)> {
    let exists = |p: &PathBuf| p.as_os_str() == "-" || p.exists();
    let words = || {
        positionals
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if read_files.is_empty() {
        let missing: Vec<String> = positionals
            .iter()
            .filter(|p| !exists(p))
            .map(|p| p.display().to_string())
            .collect();
        let looks_like_a_file = |w: &String| {
            w.contains('/')
                || [".pcap", ".pcapng", ".cap", ".gz", ".zst", ".xz"]
                    .iter()
                    .any(|e| w.ends_with(e))
        };
        // Missing captures are named with the other unreadable inputs later.
        if missing.iter().any(looks_like_a_file) {
            return Ok((positionals.to_vec(), filter));
        }
        if let Some(first) = missing.first() {
            bail!(
                "{first}: no such file or directory. To filter packets, give the expression with -f '{}' \
                 (or after the inputs when they are given with -r, as tcpdump takes it)",
                missing.join(" ")
            );
        }
        return Ok((positionals.to_vec(), filter));
    }
    if positionals.iter().all(exists) {
        let mut inputs = read_files.to_vec();
        inputs.extend(positionals.iter().cloned());
        return Ok((inputs, filter));
    }
    if let Some(f) = filter {
        bail!(
            "two filters: -f '{f}' and '{}' after the inputs; give one",
            words()
        );
    }
    Ok((read_files.to_vec(), Some(words())))
}

/// Compiles a BPF expression (for Ethernet) so a typo fails once, before
/// any input is opened, with libpcap's message.
///
/// # Errors
/// libpcap rejects the expression.
pub fn check_filter(expr: &str) -> Result<()> {
    let cap = pcap::Capture::dead(pcap::Linktype::ETHERNET).context("libpcap")?;
    cap.compile(expr, true)
        .map(drop)
        .map_err(|e| anyhow::anyhow!("filter {expr:?}: {e}"))
}

/// Where `-w` sends the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// No `-w`: the summary only.
    None,
    /// One flows file and its `.streams.parquet` beside it.
    File(PathBuf),
    /// A partitioned dataset directory (parts are only added).
    Dataset(PathBuf),
    /// `-w -`: the flows file streamed to stdout.
    Stdout,
    /// `-w az://…/` or `-w s3://…/`: a partitioned dataset on object storage.
    Remote(pathlens_export::StoreUrl),
}

/// Decides and checks the output: never onto an input (same file, whatever
/// the name), never over an existing file without `force`, `-` only to a
/// stdout that is not a terminal, and into a directory that exists.
///
/// # Errors
/// Any of those refusals.
pub fn check_output(
    write: Option<&Path>,
    inputs: &[PathBuf],
    force: bool,
    stdout_is_terminal: bool,
) -> Result<Output> {
    let Some(out) = write else {
        return Ok(Output::None);
    };
    if out == Path::new("-") {
        if stdout_is_terminal {
            bail!("-w -: refusing to write Parquet to a terminal; redirect stdout (-w - > flows.parquet | ...) or give a file name");
        }
        return Ok(Output::Stdout);
    }
    if let Some(url) = pathlens_export::StoreUrl::parse(&out.to_string_lossy())? {
        return Ok(Output::Remote(url));
    }
    if out.is_dir() || out.to_string_lossy().ends_with('/') {
        return Ok(Output::Dataset(out.to_path_buf()));
    }
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("output directory {} does not exist", dir.display());
    }
    for target in [
        out.to_path_buf(),
        pathlens_export::streams_path(out),
        pathlens_export::calls_path(out),
    ] {
        if let Some(input) = inputs.iter().find(|i| same_file(i, &target)) {
            bail!(
                "{} is the input {}; refusing to overwrite it",
                target.display(),
                input.display()
            );
        }
        if target.exists() && !force {
            bail!(
                "{} exists; refusing to overwrite it without --force",
                target.display()
            );
        }
    }
    Ok(Output::File(out.to_path_buf()))
}

/// Whether two paths are the same file (device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn workers_and_max_flows_have_bounds() {
        assert_eq!(parse_workers("4"), Ok(4));
        assert!(parse_workers("0").unwrap_err().contains("at least 1"));
        assert!(parse_workers("100000").unwrap_err().contains("at most 256"));
        assert!(parse_workers("18446744073709551616").is_err());
        assert_eq!(parse_workers("256"), Ok(256));
        assert!(parse_max_flows("0").is_err());
        assert_eq!(parse_max_flows("1"), Ok(1));
    }

    #[test]
    fn words_after_r_inputs_are_the_filter() {
        let dir = tempfile::tempdir().unwrap();
        let x = dir.path().join("x.pcap");
        std::fs::write(&x, b"").unwrap();
        let words: Vec<PathBuf> = ["udp", "port", "53"].iter().map(PathBuf::from).collect();
        let (inputs, f) = split_filter(std::slice::from_ref(&x), &words, None).unwrap();
        assert_eq!(
            (inputs, f.as_deref()),
            (vec![x.clone()], Some("udp port 53"))
        );
        // Without -r the same words are an error that says how to filter.
        let e = split_filter(&[], &words, None).unwrap_err().to_string();
        assert!(e.contains("-f 'udp port 53'"), "{e}");
        // A missing capture is only that: the input listing names it.
        let nope = [PathBuf::from("nope.pcap")];
        assert_eq!(split_filter(&[], &nope, None).unwrap().0, nope);
        // Two filters are one too many.
        assert!(split_filter(std::slice::from_ref(&x), &words, Some("tcp".into())).is_err());
        // Existing paths after -r stay inputs.
        let (inputs, f) =
            split_filter(std::slice::from_ref(&x), std::slice::from_ref(&x), None).unwrap();
        assert_eq!((inputs.len(), f), (2, None));
    }

    #[test]
    fn object_storage_urls_are_datasets_and_other_schemes_errors() {
        let out = |s: &str| check_output(Some(Path::new(s)), &[], false, false);
        assert!(matches!(out("az://lake/site1/"), Ok(Output::Remote(_))));
        assert!(matches!(out("s3://bucket/x"), Ok(Output::Remote(_))));
        for bad in [
            "gs://bucket/x/",
            "az:/lake/x/",
            "abfss://c@a.dfs.core.windows.net/x",
        ] {
            let e = out(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn bad_filter_fails_before_reading() {
        assert!(check_filter("udp port 53").is_ok());
        assert!(check_filter("udp prot 53").is_err());
    }
}
