//! Network namespaces with a veth pair, for the tests of `pathlens live`:
//! traffic stays inside the namespace, and each test and process has its
//! own, so they run in parallel.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Whether the tests run as root (network namespaces need it); says loudly
/// that `what` is skipped when not.
pub fn is_root(what: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let ok = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !ok {
        eprintln!(
            "\n!!!! SKIPPED: {what} need root (network namespaces); CI runs them as root !!!!\n"
        );
    }
    ok
}

/// Runs a command that must succeed.
pub fn run(cmd: &[&str]) {
    let o = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A network namespace holding veth pair `va` <-> `vb`, removed on drop
/// (with everything in it).
pub struct Veth {
    /// The namespace's name.
    pub ns: String,
}

impl Veth {
    /// A namespace named after `prefix`, the process and `tag`.
    pub fn new(prefix: &str, tag: &str) -> Self {
        let ns = format!("{prefix}-{}-{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        run(&["ip", "netns", "add", &ns]);
        let v = Veth { ns };
        // No router solicitations or MLD of our own in the capture.
        v.exec(&[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ]);
        v.exec(&[
            "ip", "link", "add", "va", "type", "veth", "peer", "name", "vb",
        ]);
        for i in ["va", "vb"] {
            // Room for the corpus's largest frames.
            v.exec(&["ip", "link", "set", i, "mtu", "9000", "up"]);
        }
        v.exec(&["ip", "link", "set", "lo", "up"]);
        v
    }

    /// Runs a command inside the namespace; it must succeed.
    pub fn exec(&self, cmd: &[&str]) {
        let mut all = vec!["ip", "netns", "exec", &self.ns];
        all.extend_from_slice(cmd);
        run(&all);
    }

    /// Sends captures into `va` as fast as they go.
    pub fn replay(&self, files: &[PathBuf]) {
        let mut cmd = vec![
            "tcpreplay".to_string(),
            "-q".into(),
            "-i".into(),
            "va".into(),
            "--topspeed".into(),
        ];
        cmd.extend(files.iter().map(|f| f.display().to_string()));
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        self.exec(&cmd);
    }

    /// Sends a capture into `va` at its own pace (its packet gaps kept).
    pub fn replay_timed(&self, file: &Path) {
        self.exec(&["tcpreplay", "-q", "-i", "va", file.to_str().unwrap()]);
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// A running `pathlens live` and the file its stderr goes to, killed on
/// drop if still running.
pub struct Live {
    pub child: Child,
    pub log: PathBuf,
}

impl Live {
    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 15 s) until the log holds `text`; returns the log.
    pub fn wait_log(&self, text: &str) -> String {
        let t = Instant::now();
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "no {text:?} in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends signal `sig` (`INT`, `HUP`...).
    pub fn signal(&self, sig: &str) {
        run(&["kill", &format!("-{sig}"), &self.child.id().to_string()]);
    }

    /// SIGINT, then the exit status (within 15 s).
    pub fn stop(mut self) -> (i32, String) {
        self.signal("INT");
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s.code().unwrap_or(-1), self.log());
            }
            assert!(t.elapsed() < Duration::from_secs(15), "{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
