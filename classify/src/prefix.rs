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

/// Disjoint address ranges of one family, each with the index of the route
/// (longest prefix) covering it, and a first-level index on the top 16 bits.
/// A bucket that one range covers whole answers from the index alone; any
/// other is a binary search over its few ranges, whose starts and routes sit
/// side by side so that search touches one or two cache lines.
#[derive(Clone, Debug, Default)]
struct Ranges<K> {
    /// Sorted range starts with their route (`NO_ROUTE` for none); the first
    /// start is always 0.
    entries: Vec<(K, u32)>,
    /// Per 16-bit bucket, 4 bytes so both families' indexes stay in L2:
    /// `DIRECT | route` when one range covers the bucket; else the position
    /// of the range holding the bucket's first address (low 24 bits) and the
    /// number of ranges to search (7 bits), or `CROWDED` when either does not
    /// fit (a search of all the ranges from that position, or of all).
    index: Vec<u32>,
}

const NO_ROUTE: u32 = u32::MAX;
const DIRECT: u32 = 1 << 31;
const POS_BITS: u32 = 24;
const POS_MASK: u32 = (1 << POS_BITS) - 1;
const MAX_COUNT: usize = 126;
const CROWDED: u32 = 127;

impl<K: Copy + Ord + Default> Ranges<K> {
    /// Builds from the ranges' boundaries (sorted, unique, starting at 0) and
    /// the route of each; `bucket_start(b)` is the first address of bucket b.
    fn build(points: Vec<(K, u32)>, bucket_start: impl Fn(u32) -> K) -> Self {
        let mut entries: Vec<(K, u32)> = Vec::with_capacity(points.len());
        for (k, r) in points {
            // Neighbouring ranges with the same route are one range.
            if entries.last().map(|e| e.1) != Some(r) {
                entries.push((k, r));
            }
        }
        // One sweep: bucket starts only grow, so the range holding each one
        // (and the last range the bucket reaches) only moves forward.
        let starts_after = |i: usize, k: K| entries.get(i + 1).is_some_and(|e| e.0 <= k);
        let buckets = 1usize << 16;
        let mut index = Vec::with_capacity(buckets);
        let mut lo = 0usize;
        for b in 0..buckets {
            let first = bucket_start(b as u32);
            while starts_after(lo, first) {
                lo += 1;
            }
            // The last range starting before the next bucket's first address.
            let mut hi = lo;
            match u32::try_from(b + 1).ok().filter(|&n| n < 1 << 16) {
                Some(n) => {
                    let next = bucket_start(n);
                    while entries.get(hi + 1).is_some_and(|e| e.0 < next) {
                        hi += 1;
                    }
                }
                None => hi = entries.len().saturating_sub(1).max(lo),
            }
            let n = hi - lo + 1;
            let route = entries.get(lo).map_or(NO_ROUTE, |e| e.1);
            index.push(match u32::try_from(lo) {
                _ if n == 1 && route < DIRECT => DIRECT | route,
                Ok(pos) if pos <= POS_MASK && n <= MAX_COUNT => pos | ((n as u32) << POS_BITS),
                Ok(pos) if pos <= POS_MASK => pos | (CROWDED << POS_BITS),
                _ => CROWDED << POS_BITS,
            });
        }
        Ranges { entries, index }
    }

    #[inline]
    fn find(&self, key: K, bucket: usize) -> u32 {
        let Some(&e) = self.index.get(bucket) else {
            return NO_ROUTE;
        };
        if e & DIRECT != 0 {
            return e & !DIRECT;
        }
        let lo = (e & POS_MASK) as usize;
        let slice = match e >> POS_BITS {
            CROWDED => self.entries.get(lo..),
            n => self.entries.get(lo..lo + n as usize),
        };
        let Some(slice) = slice else {
            return NO_ROUTE;
        };
        // slice[0] <= key by construction; find the last start <= key. The
        // loop has a fixed trip count for a given length and the step is a
        // conditional move, so random keys cost no branch mispredictions.
        let mut base = 0usize;
        let mut len = slice.len();
        while len > 1 {
            let half = len / 2;
            if slice.get(base + half).is_some_and(|s| s.0 <= key) {
                base += half;
            }
            len -= half;
        }
        slice.get(base).map_or(NO_ROUTE, |s| s.1)
    }
}

/// A read-only longest-prefix-match table compiled from a [`PrefixTable`]:
/// the same answers, flattened into disjoint ranges so a lookup reads two or
/// three cache lines instead of walking a trie (independent lookups then
/// overlap their memory accesses).
#[derive(Clone, Debug, Default)]
pub struct FrozenTable<T> {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
    routes: Vec<(IpNet, T)>,
}

impl<T: Clone> FrozenTable<T> {
    /// Compiles `table`.
    pub fn new(table: &PrefixTable<T>) -> Self {
        let mut routes: Vec<(IpNet, T)> = Vec::with_capacity(table.len());
        let mut ids: std::collections::HashMap<IpNet, u32> = std::collections::HashMap::new();
        let mut route_of = |net: Option<(IpNet, &T)>, routes: &mut Vec<(IpNet, T)>| -> u32 {
            match net {
                None => NO_ROUTE,
                Some((n, v)) => *ids.entry(n).or_insert_with(|| {
                    routes.push((n, v.clone()));
                    u32::try_from(routes.len() - 1).unwrap_or(NO_ROUTE)
                }),
            }
        };
        // Between two consecutive prefix boundaries the covering prefixes do
        // not change, so the route at each boundary holds up to the next one.
        let mut b4: Vec<u32> = vec![0];
        let mut b6: Vec<u128> = vec![0];
        for (net, _) in table.iter() {
            match net {
                IpNet::V4(n) => {
                    b4.push(u32::from(n.network()));
                    if let Some(e) = u32::from(n.broadcast()).checked_add(1) {
                        b4.push(e);
                    }
                }
                IpNet::V6(n) => {
                    b6.push(u128::from(n.network()));
                    if let Some(e) = u128::from(n.broadcast()).checked_add(1) {
                        b6.push(e);
                    }
                }
            }
        }
        b4.sort_unstable();
        b4.dedup();
        b6.sort_unstable();
        b6.dedup();
        let p4: Vec<(u32, u32)> = b4
            .into_iter()
            .map(|k| {
                let m = table.lookup(IpAddr::V4(k.into()));
                (k, route_of(m, &mut routes))
            })
            .collect();
        let p6: Vec<(u128, u32)> = b6
            .into_iter()
            .map(|k| {
                let m = table.lookup(IpAddr::V6(k.into()));
                (k, route_of(m, &mut routes))
            })
            .collect();
        FrozenTable {
            v4: Ranges::build(p4, |b| b << 16),
            v6: Ranges::build(p6, |b| u128::from(b) << 112),
            routes,
        }
    }
}

impl<T> FrozenTable<T> {
    /// The longest prefix containing `addr`, with its value.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<(IpNet, &T)> {
        let r = match addr {
            IpAddr::V4(a) => {
                let k = u32::from(a);
                self.v4.find(k, (k >> 16) as usize)
            }
            IpAddr::V6(a) => {
                let k = u128::from(a);
                self.v6.find(k, (k >> 112) as usize)
            }
        };
        self.routes.get(r as usize).map(|(n, v)| (*n, v))
    }

    /// Number of distinct prefixes that answer some lookup.
    pub fn routes(&self) -> usize {
        self.routes.len()
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
    fn crowded_buckets_answer_like_the_trie() {
        // 300 host routes and a /24 inside one 16-bit bucket: more ranges
        // than the index can count, so the lookup takes the long search.
        let mut t = PrefixTable::new();
        t.insert("10.7.0.0/16".parse().unwrap(), 0usize);
        t.insert("10.7.9.0/24".parse().unwrap(), 1);
        for i in 0..300u32 {
            let a = std::net::Ipv4Addr::from(0x0a07_0000 + i * 97);
            t.insert(IpNet::V4(Ipv4Net::from(a)), 2 + i as usize);
        }
        let f = FrozenTable::new(&t);
        assert!(f
            .v4
            .index
            .iter()
            .any(|e| e & DIRECT == 0 && e >> POS_BITS == CROWDED));
        for k in 0x0a06_ff00u32..0x0a08_0100 {
            let a = IpAddr::V4(k.into());
            assert_eq!(
                f.lookup(a).map(|(n, v)| (n, *v)),
                t.lookup(a).map(|(n, v)| (n, *v)),
                "{a}"
            );
        }
    }

    #[test]
    fn frozen_table_answers_like_the_trie() {
        let mut t = PrefixTable::new();
        let nets = [
            "0.0.0.0/1",
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.3/32",
            "10.255.255.255/32",
            "52.112.0.0/14",
            "52.113.0.0/16",
            "255.255.255.0/24",
            "2603:1063::/38",
            "2603:1063:1::/48",
            "ffff::/16",
            "::/0",
        ];
        for (i, n) in nets.iter().enumerate() {
            t.insert(n.parse().unwrap(), i);
        }
        let f = FrozenTable::new(&t);
        let mut probes: Vec<IpAddr> = Vec::new();
        for (net, _) in t.iter() {
            probes.push(net.network());
            probes.push(net.broadcast());
            if let (IpAddr::V4(a), IpNet::V4(_)) = (net.network(), net) {
                probes.push(IpAddr::V4((u32::from(a).wrapping_sub(1)).into()));
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probes.push(IpAddr::V4(((x >> 16) as u32).into()));
            probes.push(IpAddr::V4((0x0a01_0000 | (x as u32 & 0x3ff)).into()));
            probes.push(IpAddr::V6(
                (0x2603_1063u128 << 96 | u128::from(x) << 40).into(),
            ));
        }
        probes.push("255.255.255.255".parse().unwrap());
        probes.push("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap());
        for p in probes {
            assert_eq!(f.lookup(p), t.lookup(p), "{p}");
        }
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
