//! Live capture through libpcap: one thread per interface reads packets and
//! packs them into blocks; [`LiveSource`] hands the frames of those blocks
//! to the pipeline, and an empty frame stamped with the clock when no block
//! came for a while, so flows expire on a quiet link.
//!
//! A capture thread blocks when the pipeline is behind: packets then wait
//! in the kernel buffer (`-B`) and, when it is full, the kernel drops and
//! counts them (libpcap's `dropped`), the figure the stats line reports.

use super::Gauges;
use crate::source::{Block, BlockBytes, Frame, PacketSource, SourceError};
use crate::stop::Stop;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// libpcap's read timeout: how long a capture thread may wait for packets.
const READ_TIMEOUT_MS: i32 = 100;
/// A block is sent once this full...
const BLOCK_BYTES: usize = 256 * 1024;
/// ...or once its first packet is this old.
const BLOCK_AGE: Duration = Duration::from_millis(50);
/// How long the source waits for a block before it hands a clock tick.
const IDLE: Duration = Duration::from_millis(100);
/// Bytes of a packet's header inside a block: ts_us, wire_len, caplen.
const REC_HEADER: usize = 16;

/// How each interface is opened.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Bytes kept of each packet.
    pub snaplen: i32,
    /// Kernel buffer size, bytes (libpcap's default when `None`).
    pub buffer_size: Option<i32>,
    /// Promiscuous mode.
    pub promiscuous: bool,
    /// Deliver packets as they arrive instead of by buffer.
    pub immediate: bool,
    /// BPF filter.
    pub filter: Option<String>,
}

/// Opened captures, not yet reading (so privileges can be dropped first).
pub struct Opened {
    caps: Vec<(String, pcap::Capture<pcap::Active>)>,
    dlt: i32,
}

/// Opens every interface with `opts`.
///
/// # Errors
/// An interface cannot be opened (missing, no permission), the filter does
/// not compile, the link type is not decoded, or the interfaces' link types
/// differ.
pub fn open(ifaces: &[String], opts: &OpenOptions) -> Result<Opened, SourceError> {
    let mut caps = Vec::new();
    let mut dlt = None;
    for name in ifaces {
        let err = |reason: String| SourceError::Open {
            name: name.clone(),
            reason,
        };
        let mut c = pcap::Capture::from_device(name.as_str())
            .map_err(|e| err(e.to_string()))?
            .snaplen(opts.snaplen)
            .promisc(opts.promiscuous)
            .immediate_mode(opts.immediate)
            .timeout(READ_TIMEOUT_MS);
        if let Some(b) = opts.buffer_size {
            c = c.buffer_size(b);
        }
        // Non-blocking, with our own poll: libpcap's read timeout does not
        // fire on Linux (TPACKET_V3) while no packet at all arrives, and a
        // thread stuck there could neither hand on what it holds nor stop.
        let mut c = c
            .open()
            .and_then(pcap::Capture::setnonblock)
            .map_err(|e| err(e.to_string()))?;
        if let Some(f) = &opts.filter {
            c.filter(f, true)
                .map_err(|e| err(format!("filter {f:?}: {e}")))?;
        }
        let d = c.get_datalink();
        if crate::link::LinkType::from_dlt(d.0).is_none() {
            return Err(SourceError::LinkType {
                name: name.clone(),
                dlt: d.0,
                desc: d.get_name().unwrap_or_else(|_| "unknown".into()),
            });
        }
        if dlt.is_some_and(|x| x != d.0) {
            return Err(err(format!(
                "link type {} differs from the first interface's; capture on `any` instead",
                d.0
            )));
        }
        dlt = Some(d.0);
        tracing::info!(interface = %name, dlt = d.0, "capture opened");
        caps.push((name.clone(), c));
    }
    Ok(Opened {
        caps,
        dlt: dlt.unwrap_or(1),
    })
}

/// libpcap statistics of one interface, refreshed by its thread.
#[derive(Default)]
struct IfaceStats {
    received: AtomicU64,
    dropped: AtomicU64,
    if_dropped: AtomicU64,
}

/// The frames of every interface, as one source.
pub struct LiveSource {
    name: String,
    dlt: i32,
    rx: Receiver<Block>,
    cur: Option<Block>,
    pos: usize,
    stop: Stop,
    count: Option<u64>,
    seen: u64,
    gauges: Arc<Gauges>,
    stats: Vec<Arc<IfaceStats>>,
    done: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Opened {
    /// Starts a reading thread per interface. The source ends on a stop
    /// request, after `count` frames, or when every interface failed.
    pub fn start(self, stop: Stop, count: Option<u64>, gauges: Arc<Gauges>) -> LiveSource {
        let (tx, rx) = bounded::<Block>(64);
        let done = Arc::new(AtomicBool::new(false));
        let name = self
            .caps
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let mut stats = Vec::new();
        let mut threads = Vec::new();
        for (iface, cap) in self.caps {
            let st = Arc::new(IfaceStats::default());
            stats.push(Arc::clone(&st));
            let (tx, done) = (tx.clone(), Arc::clone(&done));
            threads.push(std::thread::spawn(move || {
                read_loop(&iface, cap, &tx, &done, &st);
            }));
        }
        LiveSource {
            name,
            dlt: self.dlt,
            rx,
            cur: None,
            pos: 0,
            stop,
            count,
            seen: 0,
            gauges,
            stats,
            done,
            threads,
        }
    }
}

fn read_loop(
    iface: &str,
    mut cap: pcap::Capture<pcap::Active>,
    tx: &Sender<Block>,
    done: &AtomicBool,
    st: &IfaceStats,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK_BYTES + 4096);
    let mut first_at = Instant::now();
    let mut stats_at = Instant::now();
    while !done.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                if buf.is_empty() {
                    first_at = Instant::now();
                }
                let h = p.header;
                let ts =
                    h.ts.tv_sec
                        .saturating_mul(1_000_000)
                        .saturating_add(h.ts.tv_usec);
                buf.extend_from_slice(&ts.to_le_bytes());
                buf.extend_from_slice(&h.len.to_le_bytes());
                let cap_len = u32::try_from(p.data.len()).unwrap_or(0);
                buf.extend_from_slice(&cap_len.to_le_bytes());
                buf.extend_from_slice(p.data.get(..cap_len as usize).unwrap_or(&[]));
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing ready: wait for the socket, briefly, so held
                // packets still leave and a stop is noticed.
                let wait = if buf.is_empty() { READ_TIMEOUT_MS } else { 10 };
                crate::os::wait_readable(cap.as_raw_fd(), wait);
            }
            Err(e) => {
                tracing::error!(interface = %iface, error = %e, "capture failed; this interface stops");
                break;
            }
        }
        let full = buf.len() >= BLOCK_BYTES;
        if !buf.is_empty() && (full || first_at.elapsed() >= BLOCK_AGE) {
            let block = std::mem::replace(&mut buf, Vec::with_capacity(BLOCK_BYTES + 4096));
            if tx.send(Arc::new(BlockBytes::Heap(block))).is_err() {
                break;
            }
        }
        if stats_at.elapsed() >= Duration::from_millis(500) {
            stats_at = Instant::now();
            store_stats(&mut cap, st);
        }
    }
    store_stats(&mut cap, st);
    if !buf.is_empty() {
        let _ = tx.send(Arc::new(BlockBytes::Heap(buf)));
    }
}

fn store_stats(cap: &mut pcap::Capture<pcap::Active>, st: &IfaceStats) {
    if let Ok(s) = cap.stats() {
        st.received.store(u64::from(s.received), Ordering::Relaxed);
        st.dropped.store(u64::from(s.dropped), Ordering::Relaxed);
        st.if_dropped
            .store(u64::from(s.if_dropped), Ordering::Relaxed);
    }
}

impl LiveSource {
    /// Copies the interfaces' libpcap counters into the gauges.
    pub fn publish_stats(&self) {
        let sum = |f: fn(&IfaceStats) -> &AtomicU64| -> u64 {
            self.stats
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        let g = &self.gauges;
        g.received.store(sum(|s| &s.received), Ordering::Relaxed);
        g.kernel_dropped
            .store(sum(|s| &s.dropped), Ordering::Relaxed);
        g.if_dropped
            .store(sum(|s| &s.if_dropped), Ordering::Relaxed);
        if g.packets.swap(self.seen, Ordering::Relaxed) != self.seen {
            let secs = u64::try_from(now_us() / 1_000_000).unwrap_or(0);
            g.last_packet.store(secs, Ordering::Relaxed);
        }
    }

    fn finish(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        // Unblock threads waiting to send, then wait for their last stats.
        while self.rx.try_recv().is_ok() {}
        for t in self.threads.drain(..) {
            while !t.is_finished() {
                while self.rx.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.join();
        }
        self.publish_stats();
    }
}

/// `N` bytes of a block at `at` (zeros past its end: blocks are our own).
fn le<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}

/// Clock time in µs since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl PacketSource for LiveSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn datalink(&self) -> i32 {
        self.dlt
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, SourceError> {
        let limit = self.count.is_some_and(|c| self.seen >= c);
        if self.stop.signal().is_some() || limit {
            if !self.threads.is_empty() {
                self.finish();
            }
            return Ok(None);
        }
        let have = self.cur.as_ref().is_some_and(|b| self.pos < b.len());
        if !have {
            self.publish_stats();
            match self.rx.recv_timeout(IDLE) {
                Ok(b) => {
                    self.cur = Some(b);
                    self.pos = 0;
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Ok(Some(Frame {
                        ts_us: now_us(),
                        wire_len: 0,
                        data: &[],
                        block: Some(crate::source::tick_block()),
                    }))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish();
                    return Ok(None);
                }
            }
        }
        let Some(b) = self.cur.as_ref() else {
            return Ok(None);
        };
        let at = self.pos;
        let ts_us = i64::from_le_bytes(le(b, at));
        let wire_len = u32::from_le_bytes(le(b, at + 8));
        let cap_len = u32::from_le_bytes(le(b, at + 12)) as usize;
        let start = at + REC_HEADER;
        self.pos = start + cap_len;
        self.seen += 1;
        let data = b.get(start..start + cap_len).unwrap_or(&[]);
        Ok(Some(Frame {
            ts_us,
            wire_len,
            data,
            block: Some(b),
        }))
    }
}

/// The interfaces libpcap can capture on, one line each (`-D`).
///
/// # Errors
/// libpcap cannot list devices.
pub fn list_interfaces() -> Result<Vec<String>, pcap::Error> {
    Ok(pcap::Device::list()?
        .into_iter()
        .enumerate()
        .map(|(i, d)| match d.desc {
            Some(desc) => format!("{}.{} ({desc})", i + 1, d.name),
            None => format!("{}.{}", i + 1, d.name),
        })
        .collect())
}
