//! Port rule files: parse, re-parse, and what a server port ranks.

use super::*;

/// Parses fuzz bytes as a port-rule file. Non-UTF-8 input is skipped
/// (`None`): rule files are read as strings. An error must name the file and
/// a 1-based line that exists in the text (counting the empty line after a
/// final newline, where an unexpected end of input is reported). A file that
/// parses must parse the same way again, and its lookups must be consistent.
pub fn check_port_rules(data: &[u8]) -> Option<Result<usize, usize>> {
    let text = std::str::from_utf8(data).ok()?;
    const FILE: &str = "fuzz.toml";
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    match PortRules::parse(text, FILE) {
        Err(e) => {
            let msg = e.to_string();
            match e {
                RuleError::Invalid {
                    file,
                    line,
                    message,
                } => {
                    assert_eq!(file, FILE);
                    assert!(
                        (1..=lines).contains(&line),
                        "error at line {line} of a {lines}-line text: {message}"
                    );
                    assert!(
                        msg.starts_with(&format!("{FILE}:{line}: ")),
                        "badly formed error {msg:?}"
                    );
                    Some(Err(line))
                }
                RuleError::Io { .. } => panic!("parsing a string gave an I/O error: {msg}"),
            }
        }
        Ok(rules) => {
            let again = match PortRules::parse(text, FILE) {
                Ok(r) => r,
                Err(e) => panic!("a text that parsed once fails the second time: {e}"),
            };
            use pathlens_classify::Transport;
            let mut covered = 0usize;
            for port in (0..=u16::MAX).step_by(251).chain([0, 53, 443, 3478, 65535]) {
                for t in [Transport::Tcp, Transport::Udp, Transport::Icmp] {
                    let a = rules.get(t, port);
                    assert_eq!(a, again.get(t, port), "re-parse differs at {t:?}/{port}");
                    if t == Transport::Icmp {
                        assert!(a.is_none(), "an ICMP port rule");
                    }
                    covered += usize::from(a.is_some());
                }
                let rank = rules.server_rank(Transport::Udp, port);
                let named = rules.get(Transport::Udp, port).is_some_and(|r| !r.wide);
                assert!(
                    (port != 0 && port < 1024 && rank == 3)
                        || (rank == 2) == named && rank != 1 && rank != 3,
                    "server rank {rank} for udp/{port}"
                );
            }
            Some(Ok(covered))
        }
    }
}
