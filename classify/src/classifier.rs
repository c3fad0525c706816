//! The per-flow classifier: combines port rules with the evidence of payload
//! dissectors over the first packets of each direction.
//!
//! A worker creates one [`FlowClassifier`] per flow and feeds it the transport
//! payload of each packet while [`FlowClassifier::wants_more`] is true; once the
//! flow is decided (or the packet budget is spent) the worker stops calling it,
//! so decided flows cost only counters. Payload evidence outranks port
//! evidence (domain.md §1.3).

use crate::rules::Signatures;
use crate::vocab::{AppProtocol, AppSource, Side, TrafficType, Transport};
use std::sync::Arc;

/// How many payload-carrying packets per direction a flow may be inspected for.
pub const DEFAULT_PACKET_BUDGET: u8 = 8;

/// What a dissector concluded from one payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The payload is this protocol.
    Certain(AppProtocol),
    /// It could be this protocol; more packets are needed.
    NeedMore,
    /// It is not this protocol.
    NotMine,
}

/// A payload dissector: a pure function over one packet's transport payload.
pub trait Dissector: Send + Sync {
    /// A short name for counters and debugging.
    fn name(&self) -> &'static str;
    /// Looks at one payload sent in direction `side`.
    fn probe(&self, transport: Transport, side: Side, payload: &[u8]) -> Probe;
}

/// Whether the classifier wants more packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding payloads.
    NeedMore,
    /// The flow is decided; stop feeding.
    Done,
}

/// The labels a classifier gives a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// `app_protocol` column.
    pub app_protocol: AppProtocol,
    /// `app_protocol_source` column.
    pub source: AppSource,
    /// `traffic_type` column.
    pub traffic_type: TrafficType,
    /// `service` (Office 365 / SfB service family), when known.
    pub service: Option<Arc<str>>,
    /// `server_name` (SNI, SIP host...), when known.
    pub server_name: Option<String>,
}

/// Per-flow classification state. Small: it lives in every flow-table entry.
#[derive(Clone, Debug)]
pub struct FlowClassifier {
    port_label: Option<(AppProtocol, TrafficType, Option<Arc<str>>)>,
    payload_label: Option<AppProtocol>,
    fed: [u8; 2],
    budget: u8,
    done: bool,
}

impl FlowClassifier {
    /// Starts a flow's classification from its oriented ports.
    pub fn new(sig: &Signatures, transport: Transport, src_port: u16, dst_port: u16) -> Self {
        let port_label = sig
            .ports
            .lookup(transport, src_port, dst_port)
            .map(|r| (r.app_protocol, r.traffic_type, r.service.clone()));
        FlowClassifier {
            port_label,
            payload_label: None,
            fed: [0, 0],
            budget: DEFAULT_PACKET_BUDGET,
            done: false,
        }
    }

    /// Whether the worker should keep feeding payloads.
    #[inline]
    pub fn wants_more(&self) -> bool {
        !self.done
    }

    /// Feeds one packet's transport payload; empty payloads are not counted
    /// against the budget.
    pub fn feed(
        &mut self,
        dissectors: &[&dyn Dissector],
        transport: Transport,
        side: Side,
        payload: &[u8],
    ) -> Progress {
        if self.done {
            return Progress::Done;
        }
        if payload.is_empty() {
            return Progress::NeedMore;
        }
        let slot = match side {
            Side::Src2Dst => 0,
            Side::Dst2Src => 1,
        };
        if let Some(n) = self.fed.get_mut(slot) {
            *n = n.saturating_add(1);
        }
        let mut unsure = false;
        for d in dissectors {
            match d.probe(transport, side, payload) {
                Probe::Certain(app) => {
                    self.payload_label = Some(app);
                    self.done = true;
                    return Progress::Done;
                }
                Probe::NeedMore => unsure = true,
                Probe::NotMine => {}
            }
        }
        let spent = self.fed.iter().all(|&n| n >= self.budget)
            || self.fed.iter().any(|&n| n >= self.budget * 2);
        if !unsure || spent {
            self.done = true;
            return Progress::Done;
        }
        Progress::NeedMore
    }

    /// The labels as they stand now.
    pub fn result(&self) -> Classification {
        if let Some(app) = self.payload_label {
            let service = self.port_label.as_ref().and_then(|p| p.2.clone());
            return Classification {
                app_protocol: app,
                source: AppSource::Payload,
                traffic_type: app.default_traffic_type(),
                service,
                server_name: None,
            };
        }
        match &self.port_label {
            Some((app, tt, service)) => Classification {
                app_protocol: *app,
                source: AppSource::Port,
                traffic_type: *tt,
                service: service.clone(),
                server_name: None,
            },
            None => Classification {
                app_protocol: AppProtocol::Unknown,
                source: AppSource::None,
                traffic_type: TrafficType::Other,
                service: None,
                server_name: None,
            },
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    struct Hello;
    impl Dissector for Hello {
        fn name(&self) -> &'static str {
            "hello"
        }
        fn probe(&self, _: Transport, _: Side, p: &[u8]) -> Probe {
            if p.starts_with(b"HELLO") {
                Probe::Certain(AppProtocol::Sip)
            } else if p.starts_with(b"HE") {
                Probe::NeedMore
            } else {
                Probe::NotMine
            }
        }
    }

    #[test]
    fn port_rule_labels_without_dissectors() {
        let sig = Signatures::builtin().unwrap();
        let mut c = FlowClassifier::new(&sig, Transport::Tcp, 50123, 5061);
        assert_eq!(
            c.feed(&[], Transport::Tcp, Side::Src2Dst, b"\x16\x03\x01"),
            Progress::Done
        );
        let r = c.result();
        assert_eq!(
            (r.app_protocol, r.source, r.traffic_type),
            (AppProtocol::SipTls, AppSource::Port, TrafficType::Signaling)
        );
        assert_eq!(r.service.as_deref(), Some("skype_teams"));
        let c = FlowClassifier::new(&sig, Transport::Udp, 40000, 40001);
        assert_eq!(
            (c.result().app_protocol, c.result().source),
            (AppProtocol::Unknown, AppSource::None)
        );
    }

    #[test]
    fn payload_evidence_outranks_ports_and_budget_bounds_inspection() {
        let sig = Signatures::builtin().unwrap();
        let d: [&dyn Dissector; 1] = [&Hello];
        let mut c = FlowClassifier::new(&sig, Transport::Tcp, 50123, 443);
        assert_eq!(
            c.feed(&d, Transport::Tcp, Side::Src2Dst, b""),
            Progress::NeedMore
        );
        assert_eq!(
            c.feed(&d, Transport::Tcp, Side::Src2Dst, b"HE"),
            Progress::NeedMore
        );
        assert_eq!(
            c.feed(&d, Transport::Tcp, Side::Dst2Src, b"HELLO"),
            Progress::Done
        );
        assert!(!c.wants_more());
        assert_eq!(
            (c.result().app_protocol, c.result().source),
            (AppProtocol::Sip, AppSource::Payload)
        );

        let mut c = FlowClassifier::new(&sig, Transport::Tcp, 50123, 443);
        let mut fed = 0;
        while c.wants_more() && fed < 100 {
            c.feed(&d, Transport::Tcp, Side::Src2Dst, b"HE");
            fed += 1;
        }
        assert_eq!(
            fed,
            usize::from(DEFAULT_PACKET_BUDGET) * 2,
            "one-sided flows stop at twice the budget"
        );
        assert_eq!(c.result().app_protocol, AppProtocol::Https);
    }
}
