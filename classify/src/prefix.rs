//! Longest-prefix match over IPv4 and IPv6 in one structure, and the site's
//! local networks built on it.
//!
//! Tables are built once at start and only read afterwards, so workers share
//! them behind an `Arc` with no locking.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use std::net::IpAddr;

/// A longest-prefix-match table from CIDR prefixes to values.
#[derive(Clone, Debug, Default)]
pub struct PrefixTable<T> {
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
}

impl<T> PrefixTable<T> {
    /// An empty table.
    pub fn new() -> Self {
        PrefixTable {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
        }
    }

    /// Inserts a prefix (host bits are cleared), replacing an equal one.
    pub fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.insert(n, value),
            IpNet::V6(n) => self.v6.insert(n, value),
        }
    }

    /// The longest prefix containing `addr`, with its value.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<(IpNet, &T)> {
        match addr {
            IpAddr::V4(a) => {
                let host = Ipv4Net::from(a);
                self.v4.get_lpm(&host).map(|(n, v)| (IpNet::V4(n), v))
            }
            IpAddr::V6(a) => {
                let host = Ipv6Net::from(a);
                self.v6.get_lpm(&host).map(|(n, v)| (IpNet::V6(n), v))
            }
        }
    }

    /// Every stored prefix containing `net` (`net` itself included).
    pub fn covering(&self, net: IpNet) -> Vec<(IpNet, &T)> {
        match net.trunc() {
            IpNet::V4(n) => self.v4.cover(&n).map(|(p, v)| (IpNet::V4(p), v)).collect(),
            IpNet::V6(n) => self.v6.cover(&n).map(|(p, v)| (IpNet::V6(p), v)).collect(),
        }
    }

    /// Every prefix and its value, IPv4 first.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> {
        self.v4
            .iter()
            .map(|(p, v)| (IpNet::V4(p), v))
            .chain(self.v6.iter().map(|(p, v)| (IpNet::V6(p), v)))
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The networks that count as local: private, loopback, link-local and
/// multicast ranges by default, plus the site's own.
#[derive(Clone, Debug)]
pub struct LocalNets {
    table: PrefixTable<String>,
}

/// The ranges that are local on every site (RFC 1918, RFC 4193 ULA, loopback,
/// link-local, multicast, broadcast), with the label each match reports.
pub const DEFAULT_LOCAL: &[(&str, &str)] = &[
    ("10.0.0.0/8", "rfc1918"),
    ("172.16.0.0/12", "rfc1918"),
    ("192.168.0.0/16", "rfc1918"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),
    ("0.0.0.0/8", "this_network"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("fc00::/7", "ula"),
    ("fe80::/10", "link_local"),
    ("::1/128", "loopback"),
    ("ff00::/8", "multicast"),
];

/// A local-network match for one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMatch<'a> {
    /// The matching prefix.
    pub prefix: IpNet,
    /// Its label.
    pub label: &'a str,
}

impl Default for LocalNets {
    fn default() -> Self {
        let mut table = PrefixTable::new();
        for (net, label) in DEFAULT_LOCAL {
            if let Ok(n) = net.parse::<IpNet>() {
                table.insert(n, (*label).to_string());
            }
        }
        LocalNets { table }
    }
}

impl LocalNets {
    /// Adds a site network with a label.
    pub fn add(&mut self, net: IpNet, label: &str) {
        self.table.insert(net, label.to_string());
    }

    /// The local prefix containing `addr`, if any.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<LocalMatch<'_>> {
        self.table
            .lookup(addr)
            .map(|(prefix, label)| LocalMatch { prefix, label })
    }

    /// Whether `addr` is local.
    #[inline]
    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.table.lookup(addr).is_some()
    }
}

/// Where a flow runs relative to the site (`direction` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowDirection {
    /// Local initiator, remote responder.
    Outbound,
    /// Remote initiator, local responder.
    Inbound,
    /// Both ends local.
    Internal,
    /// Neither end local (transit, or a capture point outside the site).
    External,
}

impl FlowDirection {
    /// Derives the direction from which ends are local.
    pub fn from_locality(local_src: bool, local_dst: bool) -> Self {
        match (local_src, local_dst) {
            (true, false) => FlowDirection::Outbound,
            (false, true) => FlowDirection::Inbound,
            (true, true) => FlowDirection::Internal,
            (false, false) => FlowDirection::External,
        }
    }

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowDirection::Outbound => "outbound",
            FlowDirection::Inbound => "inbound",
            FlowDirection::Internal => "internal",
            FlowDirection::External => "external",
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins_v4_and_v6() {
        let mut t = PrefixTable::new();
        t.insert("52.112.0.0/14".parse().unwrap(), "wide");
        t.insert("52.113.0.0/16".parse().unwrap(), "narrow");
        t.insert("2603:1063::/38".parse().unwrap(), "v6");
        assert_eq!(t.lookup(ip("52.113.9.9")).map(|x| *x.1), Some("narrow"));
        assert_eq!(t.lookup(ip("52.112.9.9")).map(|x| *x.1), Some("wide"));
        assert_eq!(t.lookup(ip("52.116.0.1")), None);
        let (net, v) = t.lookup(ip("2603:1063::1")).unwrap();
        assert_eq!((net.to_string().as_str(), *v), ("2603:1063::/38", "v6"));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn host_bits_are_cleared_on_insert() {
        let mut t = PrefixTable::new();
        t.insert("10.1.2.3/8".parse().unwrap(), 1);
        assert_eq!(
            t.lookup(ip("10.200.0.1")).map(|x| x.0.to_string()),
            Some("10.0.0.0/8".into())
        );
    }

    #[test]
    fn default_local_networks() {
        let l = LocalNets::default();
        assert_eq!(l.lookup(ip("192.168.1.121")).unwrap().label, "rfc1918");
        assert_eq!(l.lookup(ip("fd00::1")).unwrap().label, "ula");
        assert_eq!(l.lookup(ip("ff02::fb")).unwrap().label, "multicast");
        assert!(!l.is_local(ip("52.98.163.18")));
        assert!(!l.is_local(ip("172.32.0.1")));
        assert!(!l.is_local(ip("2001:db8::1")));
        let mut l = l;
        l.add("52.98.0.0/16".parse().unwrap(), "site");
        assert_eq!(l.lookup(ip("52.98.163.18")).unwrap().label, "site");
    }

    #[test]
    fn direction_from_locality() {
        assert_eq!(
            FlowDirection::from_locality(true, false).as_str(),
            "outbound"
        );
        assert_eq!(
            FlowDirection::from_locality(false, true).as_str(),
            "inbound"
        );
        assert_eq!(
            FlowDirection::from_locality(true, true).as_str(),
            "internal"
        );
        assert_eq!(
            FlowDirection::from_locality(false, false).as_str(),
            "external"
        );
    }
}
