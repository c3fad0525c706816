//! Edge routers: which MAC address or VLAN belongs to which egress, so each
//! direction of a flow can be tied to the edge it really crossed.
//!
//! The reader resolves every packet to a small edge index (0 = none) once,
//! so the flow table carries one byte per packet instead of two MACs.

use super::sources::EgressError;
use super::Egress;
use std::sync::Arc;

/// One configured edge router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Its name (`src2dst_next_hop` / `dst2src_next_hop` value).
    pub name: Arc<str>,
    /// The path it leads to: [`Egress::ExpressRoute`] or [`Egress::Internet`].
    pub path: Egress,
}

/// The edge table: MAC and VLAN to edge index.
#[derive(Clone, Debug, Default)]
pub struct Edges {
    edges: Vec<Edge>,
    macs: Vec<([u8; 6], u8)>,
    vlans: Vec<(u16, u8)>,
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl Edges {
    /// Adds an edge. `file` and `line` locate it for errors.
    ///
    /// # Errors
    /// A bad MAC, a MAC or VLAN already used by another edge, or more than
    /// 255 edges.
    pub fn add(
        &mut self,
        name: &str,
        path: Egress,
        macs: &[String],
        vlans: &[u16],
        file: &str,
        line: usize,
    ) -> Result<(), EgressError> {
        let idx = u8::try_from(self.edges.len() + 1)
            .map_err(|_| EgressError::new(file, line, name, "more than 255 edges"))?;
        for m in macs {
            let mac =
                parse_mac(m).ok_or_else(|| EgressError::new(file, line, m, "not a MAC address"))?;
            if self.macs.iter().any(|(x, _)| *x == mac) {
                return Err(EgressError::new(file, line, m, "MAC given for two edges"));
            }
            self.macs.push((mac, idx));
        }
        for &v in vlans {
            if v == 0 || v > 4094 || self.vlans.iter().any(|(x, _)| *x == v) {
                return Err(EgressError::new(
                    file,
                    line,
                    &v.to_string(),
                    "VLAN out of 1..=4094 or given for two edges",
                ));
            }
            self.vlans.push((v, idx));
        }
        self.edges.push(Edge {
            name: Arc::from(name),
            path,
        });
        Ok(())
    }

    /// Whether no edge is configured (then no per-packet work is done).
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// The edge index of a packet (0 = none): its destination MAC (outbound
    /// packets are sent to the router), else its source MAC (inbound packets
    /// come from it), else its VLAN.
    #[inline]
    pub fn resolve(&self, src_mac: Option<[u8; 6]>, dst_mac: Option<[u8; 6]>, vlan: u16) -> u8 {
        let by_mac = |m: Option<[u8; 6]>| {
            m.and_then(|m| self.macs.iter().find(|(x, _)| *x == m).map(|(_, i)| *i))
        };
        by_mac(dst_mac)
            .or_else(|| by_mac(src_mac))
            .or_else(|| {
                (vlan != 0)
                    .then(|| self.vlans.iter().find(|(x, _)| *x == vlan).map(|(_, i)| *i))
                    .flatten()
            })
            .unwrap_or(0)
    }

    /// The edge of an index from [`Edges::resolve`].
    pub fn get(&self, idx: u8) -> Option<&Edge> {
        usize::from(idx)
            .checked_sub(1)
            .and_then(|i| self.edges.get(i))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn resolves_dst_then_src_mac_then_vlan() {
        let mut e = Edges::default();
        e.add(
            "er1",
            Egress::ExpressRoute,
            &["02:00:00:00:e1:01".into()],
            &[101],
            "s",
            1,
        )
        .unwrap();
        e.add(
            "inet1",
            Egress::Internet,
            &["02-00-00-00-11-01".into()],
            &[],
            "s",
            2,
        )
        .unwrap();
        let er = parse_mac("02:00:00:00:e1:01");
        let inet = parse_mac("02:00:00:00:11:01");
        let host = parse_mac("02:00:0a:00:00:05");
        assert_eq!(e.resolve(host, er, 0), 1);
        assert_eq!(e.resolve(inet, host, 0), 2);
        assert_eq!(e.resolve(inet, er, 0), 1);
        assert_eq!(e.resolve(host, host, 101), 1);
        assert_eq!(e.resolve(host, host, 7), 0);
        assert_eq!(e.get(2).unwrap().name.as_ref(), "inet1");
        assert_eq!(e.get(0), None);
        let err = e
            .add(
                "x",
                Egress::Internet,
                &["02:00:00:00:e1".into()],
                &[],
                "site.toml",
                9,
            )
            .unwrap_err();
        assert_eq!((err.line, err.value.as_str()), (9, "02:00:00:00:e1"));
    }
}
