//! The attribution database: one longest-prefix-match structure over every
//! prefix source, built once at start and read by every worker.
//!
//! Rules, applied at build time so a lookup is a single trie walk:
//! - the longest matching prefix names the remote address (`egress_prefix`,
//!   `egress_list`, `egress_label`);
//! - on equal prefixes from several sources an Office 365 set wins over a
//!   plain list, which wins over service tags; between O365 sets the higher
//!   category wins (Optimize > Allow > Default), then the earlier set;
//! - an address is reached over ExpressRoute when *any* prefix containing it
//!   is advertised over the circuit (routers prefer the more specific ER
//!   route over the default route to the Internet); the longest such prefix
//!   is reported;
//! - the Office 365 set of an address is the highest-category set among all
//!   O365 prefixes containing it (longest prefix on a tie), even when a longer
//!   non-O365 prefix names it.

use super::sources::{Category, O365Set, ServiceTag};
use crate::prefix::{FrozenTable, PrefixTable};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// What kind of source a prefix came from, in order of precedence on equal prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    /// Azure service tags JSON.
    ServiceTags,
    /// A plain CIDR list.
    Cidr,
    /// The Office 365 endpoints JSON.
    O365,
}

/// Which O365 endpoint sets the site's circuit receives: its route filter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum O365Advertised {
    /// Every set with `expressRoute: true` (no route filter restriction).
    #[default]
    All,
    /// Only the ExpressRoute-capable sets of these service areas (the BGP
    /// communities the route filter allows) or with these ids.
    Filter {
        /// Service areas: `Exchange`, `SharePoint`, `Skype`, `Common`.
        areas: Vec<String>,
        /// Endpoint set ids.
        ids: Vec<i32>,
    },
    /// None (no circuit, or no Microsoft peering).
    None,
}

impl O365Advertised {
    /// Whether the circuit receives the prefixes of `set`: only
    /// ExpressRoute-capable sets, and of those the ones the filter allows.
    pub fn allows(&self, set: &O365Set) -> bool {
        set.expressroute
            && match self {
                O365Advertised::All => true,
                O365Advertised::Filter { areas, ids } => {
                    ids.contains(&set.id)
                        || areas
                            .iter()
                            .any(|x| x.eq_ignore_ascii_case(&set.service_area))
                }
                O365Advertised::None => false,
            }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    list: Arc<str>,
    label: Option<Arc<str>>,
    kind: SourceKind,
    category: Category,
    o365: Option<u32>,
    advertised: bool,
}

impl Entry {
    /// Precedence on an equal prefix; the earlier entry wins a tie.
    fn rank(&self) -> (SourceKind, Category) {
        let cat = if self.kind == SourceKind::O365 {
            self.category
        } else {
            Category::Default
        };
        (self.kind, cat)
    }
}

/// Index into the name table meaning "none".
const NO_NAME: u32 = u32::MAX;

/// Everything a lookup answers, stored with the prefix so that one lookup
/// touches the range table and this record only. Names are indices into a
/// small shared table, which keeps the record within one cache line.
#[derive(Clone, Copy, Debug, Default)]
struct Resolved {
    list: u32,
    label: u32,
    er: Option<(IpNet, u32, u32)>,
    o365: u32,
}

/// The result of one lookup.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrefixMatch<'a> {
    /// The longest matching prefix.
    pub prefix: IpNet,
    /// The source it came from.
    pub list: &'a str,
    /// Its label (CIDR list label, service tag name, O365 service area).
    pub label: Option<&'a str>,
    /// The longest containing prefix advertised over ExpressRoute, its source and label.
    pub expressroute: Option<(IpNet, &'a str, Option<&'a str>)>,
    /// The Office 365 set the address belongs to.
    pub o365: Option<&'a O365Set>,
}

/// Collects prefix sources; [`EgressDbBuilder::build`] resolves them.
#[derive(Debug, Default)]
pub struct EgressDbBuilder {
    sets: Vec<O365Set>,
    entries: Vec<Entry>,
    prefixes: HashMap<IpNet, Vec<u32>>,
    area_prefixes: BTreeMap<String, BTreeSet<IpNet>>,
    sources: Vec<(String, usize)>,
}

impl EgressDbBuilder {
    fn push(&mut self, net: IpNet, e: Entry) {
        let idx = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push(e);
        self.prefixes.entry(net.trunc()).or_default().push(idx);
    }

    /// Adds the Office 365 endpoint sets under source name `list`; `er` says
    /// which ER-capable sets the circuit really receives.
    pub fn add_o365(&mut self, list: &str, sets: Vec<O365Set>, er: &O365Advertised) {
        let list: Arc<str> = Arc::from(list);
        let mut n = 0;
        for set in sets {
            let si = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
            let advertised = er.allows(&set);
            for net in &set.ips {
                self.area_prefixes
                    .entry(set.service_area.to_string())
                    .or_default()
                    .insert(net.trunc());
                self.push(
                    *net,
                    Entry {
                        list: Arc::clone(&list),
                        label: Some(Arc::clone(&set.service_area)),
                        kind: SourceKind::O365,
                        category: set.category,
                        o365: Some(si),
                        advertised,
                    },
                );
                n += 1;
            }
            self.sets.push(set);
        }
        self.sources.push((list.to_string(), n));
    }

    /// Adds a plain prefix list; `advertised` when the circuit receives it
    /// (e.g. an export of the routes learned over ExpressRoute).
    pub fn add_cidrs(&mut self, list: &str, items: Vec<(IpNet, Option<String>)>, advertised: bool) {
        let list: Arc<str> = Arc::from(list);
        let n = items.len();
        for (net, label) in items {
            self.push(
                net,
                Entry {
                    list: Arc::clone(&list),
                    label: label.map(Arc::from),
                    kind: SourceKind::Cidr,
                    category: Category::Default,
                    o365: None,
                    advertised,
                },
            );
        }
        self.sources.push((list.to_string(), n));
    }

    /// Adds Azure service tags; each prefix is labelled with its tag name.
    pub fn add_service_tags(&mut self, list: &str, tags: Vec<ServiceTag>, advertised: bool) {
        let list: Arc<str> = Arc::from(list);
        let mut n = 0;
        for t in tags {
            let label: Arc<str> = Arc::from(t.name);
            for net in t.prefixes {
                self.push(
                    net,
                    Entry {
                        list: Arc::clone(&list),
                        label: Some(Arc::clone(&label)),
                        kind: SourceKind::ServiceTags,
                        category: Category::Default,
                        o365: None,
                        advertised,
                    },
                );
                n += 1;
            }
        }
        self.sources.push((list.to_string(), n));
    }

    /// Resolves precedence and builds the lookup structure.
    pub fn build(self) -> EgressDb {
        struct Node {
            best: u32,
            adv: Option<u32>,
            o365: Option<(Category, u32)>,
        }
        let entries = self.entries;
        let at = |i: u32| entries.get(i as usize);
        let mut nodes: PrefixTable<Node> = PrefixTable::new();
        let mut advertised = 0;
        for (net, idxs) in &self.prefixes {
            // Highest rank wins; on a tie the earliest entry (max_by keeps the last max).
            let best = idxs
                .iter()
                .rev()
                .copied()
                .max_by_key(|&i| at(i).map(Entry::rank));
            let adv = idxs
                .iter()
                .rev()
                .copied()
                .filter(|&i| at(i).is_some_and(|e| e.advertised))
                .max_by_key(|&i| at(i).map(Entry::rank));
            let o365 = idxs
                .iter()
                .rev()
                .filter_map(|&i| at(i).and_then(|e| e.o365.map(|s| (e.category, s))))
                .max_by_key(|x| x.0);
            if let Some(best) = best {
                advertised += usize::from(adv.is_some());
                nodes.insert(*net, Node { best, adv, o365 });
            }
        }
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut name_ids: HashMap<Arc<str>, u32> = HashMap::new();
        let mut intern = |n: Option<&Arc<str>>| -> u32 {
            let Some(n) = n else {
                return NO_NAME;
            };
            *name_ids.entry(Arc::clone(n)).or_insert_with(|| {
                names.push(Arc::clone(n));
                u32::try_from(names.len() - 1).unwrap_or(NO_NAME)
            })
        };
        let mut table = PrefixTable::new();
        for (net, node) in nodes.iter() {
            let cover = nodes.covering(net);
            let er = cover
                .iter()
                .filter_map(|(p, n)| n.adv.map(|a| (*p, a)))
                .max_by_key(|(p, _)| p.prefix_len());
            let o365 = cover
                .iter()
                .filter_map(|(p, n)| n.o365.map(|(c, s)| ((c, p.prefix_len()), s)))
                .max_by_key(|x| x.0)
                .map(|x| x.1);
            let Some(best) = at(node.best) else {
                continue;
            };
            let er = er.and_then(|(p, i)| {
                at(i).map(|e| (p, intern(Some(&e.list)), intern(e.label.as_ref())))
            });
            table.insert(
                net,
                Resolved {
                    list: intern(Some(&best.list)),
                    label: intern(best.label.as_ref()),
                    er,
                    o365: o365.unwrap_or(NO_NAME),
                },
            );
        }
        EgressDb {
            sets: self.sets,
            names,
            table: FrozenTable::new(&table),
            prefixes: table.len(),
            area_prefixes: self
                .area_prefixes
                .into_iter()
                .map(|(k, v)| (k, v.len()))
                .collect(),
            advertised,
            sources: self.sources,
        }
    }
}

/// Longest-prefix attribution over all prefix sources.
#[derive(Clone, Debug, Default)]
pub struct EgressDb {
    sets: Vec<O365Set>,
    names: Vec<Arc<str>>,
    table: FrozenTable<Resolved>,
    prefixes: usize,
    area_prefixes: BTreeMap<String, usize>,
    advertised: usize,
    sources: Vec<(String, usize)>,
}

impl EgressDb {
    /// Attribution of one address, if any source contains it.
    #[inline]
    pub fn lookup(&self, addr: IpAddr) -> Option<PrefixMatch<'_>> {
        let (prefix, r) = self.table.lookup(addr)?;
        let name = |i: u32| self.names.get(i as usize).map(AsRef::as_ref);
        Some(PrefixMatch {
            prefix,
            list: name(r.list).unwrap_or_default(),
            label: name(r.label),
            expressroute: r
                .er
                .map(|(p, l, lb)| (p, name(l).unwrap_or_default(), name(lb))),
            o365: self.sets.get(r.o365 as usize),
        })
    }

    /// Distinct prefixes in the table.
    pub fn len(&self) -> usize {
        self.prefixes
    }

    /// Whether no source was loaded.
    pub fn is_empty(&self) -> bool {
        self.prefixes == 0
    }

    /// Distinct O365 prefixes per service area (a prefix listed by two areas counts in both).
    pub fn o365_prefixes_by_area(&self) -> &BTreeMap<String, usize> {
        &self.area_prefixes
    }

    /// Distinct prefixes advertised over ExpressRoute.
    pub fn advertised_prefixes(&self) -> usize {
        self.advertised
    }

    /// Each source loaded and the prefixes it gave, in load order.
    pub fn sources(&self) -> &[(String, usize)] {
        &self.sources
    }

    /// The O365 endpoint sets loaded.
    pub fn o365_sets(&self) -> &[O365Set] {
        &self.sets
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn set(id: i32, area: &str, cat: Category, er: bool, ips: &[&str]) -> O365Set {
        O365Set {
            id,
            service_area: Arc::from(area),
            service: None,
            category: cat,
            expressroute: er,
            required: true,
            tcp_ports: Arc::from("443"),
            udp_ports: Arc::from(""),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn precedence_rules() {
        let mut b = EgressDbBuilder::default();
        b.add_service_tags(
            "tags",
            vec![ServiceTag {
                name: "AzureCloud".into(),
                prefixes: vec![
                    "52.112.0.0/14".parse().unwrap(),
                    "20.0.0.0/8".parse().unwrap(),
                ],
            }],
            false,
        );
        b.add_o365(
            "o365",
            vec![
                set(2, "Exchange", Category::Allow, true, &["40.96.0.0/13"]),
                set(1, "Exchange", Category::Optimize, true, &["40.96.0.0/13"]),
                set(
                    11,
                    "Skype",
                    Category::Optimize,
                    true,
                    &["52.112.0.0/14", "2603:1063::/38"],
                ),
                set(12, "Skype", Category::Allow, false, &["52.113.5.0/24"]),
                set(30, "Common", Category::Default, false, &["20.1.0.0/16"]),
            ],
            &O365Advertised::All,
        );
        b.add_cidrs(
            "mine",
            vec![("52.113.5.128/25".parse().unwrap(), Some("lab".into()))],
            false,
        );
        let db = b.build();

        // Equal prefix: O365 beats the service tag; Optimize beats Allow.
        let m = db.lookup(ip("52.112.1.1")).unwrap();
        assert_eq!((m.list, m.o365.unwrap().id), ("o365", 11));
        assert_eq!(db.lookup(ip("40.97.0.1")).unwrap().o365.unwrap().id, 1);
        // A longer non-ER set inside an ER set: still reached over ER, named
        // by the longer prefix, O365 set by the higher category.
        let m = db.lookup(ip("52.113.5.1")).unwrap();
        assert_eq!(m.prefix.to_string(), "52.113.5.0/24");
        assert_eq!(m.expressroute.unwrap().0.to_string(), "52.112.0.0/14");
        assert_eq!(m.o365.unwrap().id, 11);
        // A plain list's longer prefix names the address; O365 data remains.
        let m = db.lookup(ip("52.113.5.200")).unwrap();
        assert_eq!((m.list, m.label), ("mine", Some("lab")));
        assert_eq!(m.o365.unwrap().id, 11);
        // Not advertised: no ER prefix.
        let m = db.lookup(ip("20.1.2.3")).unwrap();
        assert_eq!((m.expressroute, m.o365.unwrap().id), (None, 30));
        let m = db.lookup(ip("20.2.2.3")).unwrap();
        assert_eq!(
            (m.list, m.label, m.o365),
            ("tags", Some("AzureCloud"), None)
        );
        assert!(db
            .lookup(ip("2603:1063::9"))
            .unwrap()
            .expressroute
            .is_some());
        assert_eq!(db.lookup(ip("8.8.8.8")), None);
        assert_eq!(db.o365_prefixes_by_area()["Exchange"], 1);
        assert_eq!(db.o365_prefixes_by_area()["Skype"], 3);
        assert_eq!(db.advertised_prefixes(), 3);
    }

    #[test]
    fn route_filter_limits_advertised_areas() {
        let sets = vec![
            set(1, "Exchange", Category::Optimize, true, &["40.96.0.0/13"]),
            set(11, "Skype", Category::Optimize, true, &["52.112.0.0/14"]),
        ];
        let mut b = EgressDbBuilder::default();
        let filter = |areas: &[&str], ids: &[i32]| O365Advertised::Filter {
            areas: areas.iter().map(|a| a.to_string()).collect(),
            ids: ids.to_vec(),
        };
        b.add_o365("o365", sets.clone(), &filter(&["skype"], &[]));
        let db = b.build();
        assert!(db.lookup(ip("40.96.0.1")).unwrap().expressroute.is_none());
        assert!(db.lookup(ip("52.112.0.1")).unwrap().expressroute.is_some());
        // By set id.
        let mut b = EgressDbBuilder::default();
        b.add_o365("o365", sets.clone(), &filter(&[], &[1]));
        let db = b.build();
        assert!(db.lookup(ip("40.96.0.1")).unwrap().expressroute.is_some());
        assert!(db.lookup(ip("52.112.0.1")).unwrap().expressroute.is_none());
        let mut capable_only = sets[1].clone();
        capable_only.expressroute = false;
        assert!(!filter(&["Skype"], &[11]).allows(&capable_only));
    }
}
