//! Counters: what was read, decoded, skipped and why, and what the flow
//! tables did. Each thread keeps its own and they are summed at the end, so
//! nothing on the packet path is shared.

use pathlens_classify::EndReason;
use serde::Serialize;
use std::collections::BTreeMap;

/// Reader-side counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ReadCounters {
    /// Frames read from all inputs.
    pub packets_read: u64,
    /// Frames that became flow packets.
    pub packets_decoded: u64,
    /// Frames that carry no IP (ARP, LLDP...).
    pub not_ip: u64,
    /// Frames whose captured length is below the wire length.
    pub truncated: u64,
    /// IP fragments seen.
    pub fragments: u64,
    /// Later fragments whose first fragment was not seen (kept port-less).
    pub fragments_untracked: u64,
    /// Malformed frames by reason.
    pub malformed: BTreeMap<String, u64>,
    /// Bytes of captured frames read.
    pub captured_bytes: u64,
    /// Flow packets that came out of a tunnel or mirror encapsulation.
    pub decapsulated: u64,
    /// Packets with a tunnel header that could not be opened (cut, unknown
    /// version or payload, fragmented): each stays a packet of the outer flow.
    pub tunnel_undecodable: u64,
}

impl ReadCounters {
    /// Sum of all malformed reasons.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().sum()
    }
}

/// Flow-table counters of one worker.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FlowCounters {
    /// Flows created.
    pub flows_created: u64,
    /// Records ended, by end reason.
    pub ended: BTreeMap<String, u64>,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Records labelled from an endpoint another flow announced.
    pub correlated: u64,
}

impl FlowCounters {
    /// Counts one ended record.
    pub fn ended(&mut self, reason: EndReason) {
        *self.ended.entry(reason.as_str().to_string()).or_default() += 1;
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &FlowCounters) {
        self.flows_created += o.flows_created;
        self.evicted += o.evicted;
        self.correlated += o.correlated;
        for (k, v) in &o.ended {
            *self.ended.entry(k.clone()).or_default() += v;
        }
    }
}

/// Everything a run counted, as written to the summary and the file metadata.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunCounters {
    /// Reader side.
    #[serde(flatten)]
    pub read: ReadCounters,
    /// Flow tables, summed.
    #[serde(flatten)]
    pub flows: FlowCounters,
    /// Endpoints learned for correlation.
    #[serde(flatten)]
    pub correlation: pathlens_classify::classifier::CorrelationCounters,
    /// Flow records written.
    pub records_written: u64,
    /// Inputs that failed (unreadable, not a capture, cut mid-record).
    pub inputs_failed: u64,
}
