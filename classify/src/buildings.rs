//! The CQD building data file: which building, network and region each
//! local subnet is, whether it is inside the corporate network, behind a VPN
//! pool, and whether its office has an ExpressRoute circuit.
//!
//! The format is the one Microsoft's Call Quality Dashboard takes for its
//! "building data" upload (domain.md 3.5): `.csv` or `.tsv`, no header row,
//! 14 columns and an optional 15th, in this order: NetworkIP, NetworkName,
//! NetworkRange (prefix length), BuildingName, OwnershipType, BuildingType,
//! BuildingOfficeType, City, ZipCode, Country, State, Region, InsideCorp
//! (0/1), ExpressRoute (0/1), VPN (0/1, default 0). Strings may be empty.
//! Ranges may be supernets of others (the longest prefix wins); the same
//! range twice is an overlap and is rejected, as CQD rejects it at upload.
//!
//! [`parse`] is pure: text in, the table or the first error out, as
//! `FILE:LINE: column N (Name): what: "value"`.

use crate::prefix::PrefixTable;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;

/// The columns of the file, in order.
pub const COLUMNS: [&str; 15] = [
    "NetworkIP",
    "NetworkName",
    "NetworkRange",
    "BuildingName",
    "OwnershipType",
    "BuildingType",
    "BuildingOfficeType",
    "City",
    "ZipCode",
    "Country",
    "State",
    "Region",
    "InsideCorp",
    "ExpressRoute",
    "VPN",
];

/// One row of the file: a subnet and the building it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Building {
    /// The subnet (NetworkIP / NetworkRange).
    pub network: IpNet,
    /// The same as text, `10.1.0.0/24`.
    pub subnet: Arc<str>,
    /// NetworkName.
    pub network_name: Arc<str>,
    /// BuildingName.
    pub name: Arc<str>,
    /// OwnershipType.
    pub ownership: Arc<str>,
    /// BuildingType.
    pub building_type: Arc<str>,
    /// BuildingOfficeType.
    pub office_type: Arc<str>,
    /// City.
    pub city: Arc<str>,
    /// ZipCode.
    pub zip: Arc<str>,
    /// Country.
    pub country: Arc<str>,
    /// State.
    pub state: Arc<str>,
    /// Region.
    pub region: Arc<str>,
    /// InsideCorp: the subnet is inside the corporate network.
    pub inside_corp: bool,
    /// ExpressRoute: the building's Office 365 traffic takes the circuit.
    pub expressroute: bool,
    /// VPN: the subnet is a VPN address pool.
    pub vpn: bool,
    /// Its line in the file.
    pub line: usize,
}

/// A building file that does not follow the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildingsError {
    /// The file as named.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (its name is in [`COLUMNS`]).
    pub column: usize,
    /// The offending value (at most 60 characters).
    pub value: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for BuildingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = COLUMNS
            .get(self.column.saturating_sub(1))
            .copied()
            .unwrap_or("-");
        write!(
            f,
            "{}:{}: column {} ({name}): {}: \"{}\"",
            self.file, self.line, self.column, self.message, self.value
        )
    }
}

impl std::error::Error for BuildingsError {}

/// Every building row, by subnet.
#[derive(Clone, Debug)]
pub struct Buildings {
    table: PrefixTable<Arc<Building>>,
}

impl Default for Buildings {
    fn default() -> Self {
        Buildings {
            table: PrefixTable::new(),
        }
    }
}

impl Buildings {
    /// The building of the longest subnet containing `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Arc<Building>> {
        self.table.lookup(ip).map(|(_, b)| b)
    }

    /// Whether the building of `ip` has an ExpressRoute circuit; None when
    /// no row covers it (the site's own circuit setting applies then).
    pub fn expressroute_for(&self, ip: IpAddr) -> Option<bool> {
        self.lookup(ip).map(|b| b.expressroute)
    }

    /// Every row, IPv4 first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Building>> {
        self.table.iter().map(|(_, b)| b)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// The buildings of a flow's local ends (`building`, `peer_building`...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowBuildings {
    /// The local end's building: the initiator's when it is local, else the
    /// responder's; None when no row covers it.
    pub local: Option<Arc<Building>>,
    /// For a flow between two local ends, the responder's building.
    pub peer: Option<Arc<Building>>,
}

impl FlowBuildings {
    /// The buildings of a flow's ends, given which of them are local.
    pub fn of(
        b: &Buildings,
        (src, local_src): (IpAddr, bool),
        (dst, local_dst): (IpAddr, bool),
    ) -> Self {
        let at = |a: IpAddr| b.lookup(a).cloned();
        match (local_src, local_dst) {
            (true, true) => FlowBuildings {
                local: at(src),
                peer: at(dst),
            },
            (true, false) => FlowBuildings {
                local: at(src),
                peer: None,
            },
            (false, true) => FlowBuildings {
                local: at(dst),
                peer: None,
            },
            (false, false) => FlowBuildings::default(),
        }
    }
}

/// Splits one line on `sep`; a field may be double-quoted (`""` inside is a
/// quote), as spreadsheet exports write fields holding the separator.
fn fields(line: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cur.is_empty() => quoted = true,
            c if c == sep && !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// The separator: a tab for `.tsv`, a comma for `.csv`, else whichever the
/// first line holds.
fn separator(text: &str, file: &str) -> char {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".tsv") {
        '\t'
    } else if lower.ends_with(".csv") {
        ','
    } else if text.lines().next().is_some_and(|l| l.contains('\t')) {
        '\t'
    } else {
        ','
    }
}

/// Parses a building file; `file` names it in errors (and its extension
/// picks the separator).
///
/// # Errors
/// The first line that breaks the format: a column count other than 14 or
/// 15 (a header row), a NetworkIP that is no address, a NetworkRange that is
/// no prefix length for it or leaves host bits set, a flag other than 0 or
/// 1, or a subnet given twice.
pub fn parse(text: &str, file: &str) -> Result<Buildings, BuildingsError> {
    let sep = separator(text, file);
    let mut table: PrefixTable<Arc<Building>> = PrefixTable::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let b = row(raw, sep, file, line)?;
        if let Some(prev) = table.insert(b.network, Arc::new(b.clone())) {
            return Err(BuildingsError {
                file: file.to_string(),
                line,
                column: 1,
                value: b.network.to_string(),
                message: format!("overlapping range: the same subnet as line {}", prev.line),
            });
        }
    }
    Ok(Buildings { table })
}

fn row(raw: &str, sep: char, file: &str, line: usize) -> Result<Building, BuildingsError> {
    let f = fields(raw, sep);
    let err = |column: usize, value: &str, message: String| BuildingsError {
        file: file.to_string(),
        line,
        column,
        value: value.chars().take(60).collect(),
        message,
    };
    let get = |c: usize| f.get(c - 1).map(|s| s.trim()).unwrap_or("");
    let ip: IpAddr = get(1).parse().map_err(|_| {
        let hint = if line == 1 && get(1).eq_ignore_ascii_case("networkip") {
            " (a header row? the file has none)"
        } else {
            ""
        };
        err(1, get(1), format!("not an IP address{hint}"))
    })?;
    if f.len() != 14 && f.len() != 15 {
        let column = (f.len() + 1).min(15);
        return Err(err(
            column,
            raw,
            format!("expected 14 or 15 columns, found {}", f.len()),
        ));
    }
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = get(3)
        .parse()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| err(3, get(3), format!("expected a prefix length 0-{max}")))?;
    let network = IpNet::new(ip, len).map_err(|e| err(3, get(3), e.to_string()))?;
    if network.network() != ip {
        return Err(err(
            1,
            get(1),
            format!(
                "host bits set for /{len}: the subnet is {}",
                network.trunc()
            ),
        ));
    }
    let flag = |c: usize| match get(c) {
        "0" => Ok(false),
        "1" => Ok(true),
        "" if c == 15 => Ok(false),
        v => Err(err(c, v, "expected 0 or 1".to_string())),
    };
    let s = |c: usize| Arc::<str>::from(get(c));
    Ok(Building {
        network,
        subnet: Arc::from(network.to_string()),
        network_name: s(2),
        name: s(4),
        ownership: s(5),
        building_type: s(6),
        office_type: s(7),
        city: s(8),
        zip: s(9),
        country: s(10),
        state: s(11),
        region: s(12),
        inside_corp: flag(13)?,
        expressroute: flag(14)?,
        vpn: flag(15)?,
        line,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    const SEA: &str = "192.168.1.0,USA/Seattle/SEATTLE-SEA-1,26,SEATTLE-SEA-1,Contoso,IT Termination,Engineering,Seattle,98001,US,WA,MSUS,1,0,0";

    fn err(text: &str) -> BuildingsError {
        parse(text, "b.csv").unwrap_err()
    }

    #[test]
    fn microsofts_example_row_parses() {
        let b = parse(SEA, "b.csv").unwrap();
        let s = b.lookup("192.168.1.63".parse().unwrap()).unwrap();
        assert_eq!(&*s.name, "SEATTLE-SEA-1");
        assert_eq!(&*s.region, "MSUS");
        assert_eq!((s.inside_corp, s.expressroute, s.vpn), (true, false, false));
        assert!(
            b.lookup("192.168.1.64".parse().unwrap()).is_none(),
            "/26 ends at .63"
        );
        assert_eq!(
            b.expressroute_for("192.168.1.1".parse().unwrap()),
            Some(false)
        );
        assert_eq!(b.expressroute_for("10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn supernets_longest_prefix_wins_and_vpn_is_optional() {
        let t = "10.0.0.0\tCorp\t8\tHQ\t\t\t\t\t\t\t\tEU\t1\t1\n\
                 10.1.2.0\tFloor 2\t24\tAnnex\t\t\t\t\t\t\t\tEU\t1\t0\t0\r\n\
                 \n\
                 2001:db8:1::\tV6\t48\tHQ\t\t\t\t\t\t\t\tEU\t1\t1\t1\n";
        let b = parse(t, "b.tsv").unwrap();
        assert_eq!(b.len(), 3);
        let at = |a: &str| b.lookup(a.parse().unwrap()).unwrap();
        assert_eq!(&*at("10.1.2.9").name, "Annex");
        assert_eq!(&*at("10.1.3.9").name, "HQ");
        assert_eq!(b.expressroute_for("10.1.2.9".parse().unwrap()), Some(false));
        assert_eq!(b.expressroute_for("10.1.3.9".parse().unwrap()), Some(true));
        assert!(at("2001:db8:1::5").vpn);
        assert!(!at("10.1.3.9").vpn, "a missing 15th column is 0");
    }

    #[test]
    fn quoted_fields_may_hold_the_separator() {
        let t = "10.2.0.0,\"Paris, rive gauche\",16,\"PAR \"\"1\"\"\",,,,,,,,EU,1,0";
        let b = parse(t, "b.csv").unwrap();
        let p = b.lookup("10.2.3.4".parse().unwrap()).unwrap();
        assert_eq!(
            (&*p.network_name, &*p.name),
            ("Paris, rive gauche", "PAR \"1\"")
        );
    }

    #[test]
    fn a_header_row_is_named() {
        let e = err(&format!("{}\n{SEA}\n", COLUMNS[..14].join(",")));
        assert_eq!((e.line, e.column), (1, 1));
        let s = e.to_string();
        assert!(
            s.starts_with("b.csv:1: column 1 (NetworkIP): not an IP address (a header row"),
            "{s}"
        );
    }

    #[test]
    fn thirteen_columns_name_the_missing_one() {
        let short = SEA.rsplit_once(',').unwrap().0.rsplit_once(',').unwrap().0;
        let e = err(&format!("10.0.0.0,x,8,A,,,,,,,,,1,0\n{short}\n"));
        assert_eq!((e.line, e.column), (2, 14));
        assert!(
            e.to_string()
                .contains("column 14 (ExpressRoute): expected 14 or 15 columns, found 13"),
            "{e}"
        );
        let e = err(&format!("{SEA},0,x"));
        assert!(e.message.contains("found 17"), "{e}");
    }

    #[test]
    fn bad_prefixes_and_flags() {
        let e = err(&SEA.replace(",26,", ",33,"));
        assert_eq!((e.column, e.value.as_str()), (3, "33"));
        assert!(e.to_string().contains("column 3 (NetworkRange)"), "{e}");
        let e = err(&SEA.replace(",26,", ",x,"));
        assert_eq!(e.column, 3);
        let e = err(&SEA.replace("192.168.1.0,", "192.168.1.32,"));
        assert_eq!(e.column, 1, "host bits set: {e}");
        assert!(e.message.contains("192.168.1.0/26"), "{e}");
        let e = err(&SEA.replace("192.168.1.0,", "300.1.1.0,"));
        assert_eq!(e.column, 1);
        let e = err(&SEA.replace(",1,0,0", ",yes,0,0"));
        assert_eq!((e.column, e.value.as_str()), (13, "yes"));
        let e = err(&SEA.replace(",1,0,0", ",1,2,0"));
        assert!(
            e.to_string()
                .contains("column 14 (ExpressRoute): expected 0 or 1"),
            "{e}"
        );
        let e = err(&SEA.replace(",1,0,0", ",1,0,9"));
        assert_eq!(e.column, 15);
    }

    #[test]
    fn the_same_subnet_twice_is_an_overlap() {
        let e = err(&format!("{SEA}\n10.0.0.0,x,8,A,,,,,,,,,1,0\n{SEA}\n"));
        assert_eq!((e.line, e.column), (3, 1));
        assert!(
            e.message.contains("overlapping range") && e.message.contains("line 1"),
            "{e}"
        );
    }

    #[test]
    fn any_text_gives_a_table_or_an_error() {
        for t in ["", "\n\n", ",,,,", "\u{feff}1.2.3.4", "\"", "1.2.3.4,\"a"] {
            let _ = parse(t, "x");
        }
    }
}
