//! The Office 365 endpoint list, read independently of pathlens, for tests
//! that need to know which service area Microsoft says an address and port
//! belong to (scoring the corpus, checking that a generated "not Microsoft"
//! server really is outside every set).
#![allow(dead_code)] // each test uses a part

use ipnet::IpNet;
use std::net::IpAddr;
use std::path::Path;

/// One endpoint set's prefixes and ports.
#[derive(Clone, Debug)]
struct Set {
    area: String,
    nets: Vec<IpNet>,
    tcp: Vec<(u16, u16)>,
    udp: Vec<(u16, u16)>,
}

/// The sets of an endpoints JSON that list addresses.
#[derive(Clone, Debug)]
pub struct O365List {
    sets: Vec<Set>,
}

fn ports(v: Option<&serde_json::Value>) -> Vec<(u16, u16)> {
    let Some(s) = v.and_then(|v| v.as_str()) else {
        return Vec::new();
    };
    s.split(',')
        .filter_map(|p| {
            let p = p.trim();
            match p.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => p.parse().ok().map(|x| (x, x)),
            }
        })
        .collect()
}

impl O365List {
    /// Reads the endpoints JSON at `path`.
    pub fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sets = v
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| {
                let nets: Vec<IpNet> = s
                    .get("ips")?
                    .as_array()?
                    .iter()
                    .map(|n| n.as_str().unwrap().parse().unwrap())
                    .collect();
                Some(Set {
                    area: s.get("serviceArea")?.as_str()?.to_string(),
                    nets,
                    tcp: ports(s.get("tcpPorts")),
                    udp: ports(s.get("udpPorts")),
                })
            })
            .collect();
        O365List { sets }
    }

    /// The service area of the first set listing `addr` with `port` on
    /// `transport` ("tcp" or "udp").
    pub fn area_of(&self, addr: IpAddr, transport: &str, port: u16) -> Option<&str> {
        self.sets
            .iter()
            .find(|s| {
                let ports = if transport == "tcp" { &s.tcp } else { &s.udp };
                s.nets.iter().any(|n| n.contains(&addr))
                    && ports.iter().any(|&(a, b)| (a..=b).contains(&port))
            })
            .map(|s| s.area.as_str())
    }

    /// Whether any set lists `addr`, whatever the port.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.sets
            .iter()
            .any(|s| s.nets.iter().any(|n| n.contains(&addr)))
    }
}
