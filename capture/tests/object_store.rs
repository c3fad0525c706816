//! Object storage as the output (issue 28, point 5): `-w az://…/` against
//! Azurite, Microsoft's Azure Storage emulator, started on loopback by each
//! test with its own workspace and port (`npm install -g azurite`, see
//! `.ci/setup test`). The blobs are read back with the Azure SDK for Python
//! and pyarrow's AzureFileSystem and compared with a local run of the same
//! input; `summary` reads the `az://` dataset too. `s3://` is tested the same
//! way against moto's S3 server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, what: &str) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what} did not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Azurite's blob service on a loopback port with its own workspace;
/// stopped on drop.
struct Azurite {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Azurite {
    fn start() -> Self {
        let mut a = Azurite {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        };
        a.up();
        a
    }

    /// Starts the emulator (again) on the same port and workspace.
    fn up(&mut self) {
        let child = Command::new("azurite-blob")
            .args(["--silent", "--skipApiVersionCheck", "--loose"])
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(self.port.to_string())
            .arg("--location")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("azurite-blob is needed: npm install -g azurite (.ci/setup test)");
        self.child = Some(child);
        wait_port(self.port, "azurite");
    }

    /// Kills the emulator (its data stays in the workspace).
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn py(&self, args: &[&str]) -> String {
        let port = self.port.to_string();
        let mut all = vec![args[0], port.as_str()];
        all.extend_from_slice(&args[1..]);
        python(&all)
    }

    /// `pathlens ARGS` with the emulator's settings and no other Azure ones.
    fn pathlens(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("AZURE_") || k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.env("AZURE_STORAGE_USE_EMULATOR", "true")
            .env(
                "AZURITE_BLOB_STORAGE_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.down();
    }
}

fn python(args: &[&str]) -> String {
    let o = Command::new("python3")
        .arg(repo().join("capture/tests/python/check_store.py"))
        .args(args)
        .output()
        .expect("python3 is needed by this test");
    assert!(
        o.status.success(),
        "check_store.py {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn names(json: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

/// A local `read -w DIR/` of `inputs`, the reference every remote run is
/// compared with.
fn local_run(dir: &Path, inputs: &[&str]) {
    let mut args = vec!["-q", "read", "--workers", "1", "--sensor", "edge1"];
    args.extend_from_slice(inputs);
    let d = format!("{}/", dir.display());
    args.extend(["-w", d.as_str()]);
    ok(&pathlens(&args));
}

fn sample() -> PathBuf {
    repo().join("testdata/sample.pcap")
}

#[test]
fn read_to_azure_gives_the_blobs_of_a_local_run_row_for_row() {
    let az = Azurite::start();
    az.py(&["create", "lake"]);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    // The sample and the corpus: many hours, so many partitions.
    let mut caps = corpus_files();
    caps.push(sample());
    let caps: Vec<&str> = caps.iter().map(|p| p.to_str().unwrap()).collect();
    local_run(&local, &caps);

    let mut args = vec!["read", "--workers", "1", "--sensor", "edge1"];
    args.extend_from_slice(&caps);
    args.extend(["-w", "az://lake/pathlens/site1/"]);
    let out = ok(&az.pathlens(&args));
    assert!(
        out.contains("output:   az://lake/pathlens/site1/flows ("),
        "{out}"
    );
    // The staging directory is gone with the run.
    let blobs = az.py(&["blobs", "lake", "pathlens/site1/"]);
    let local_files = python(&["local-files", local.to_str().unwrap()]);
    assert_eq!(names(&blobs), names(&local_files), "same layout and names");
    assert!(names(&blobs).len() >= 2, "{blobs}");
    assert!(
        names(&blobs).iter().all(|n| !n.contains(".inprogress")),
        "{blobs}"
    );
    for table in ["flows", "streams"] {
        let remote = az.py(&["rows", "lake", "pathlens/site1/", table]);
        let here = python(&["local-rows", local.to_str().unwrap(), table]);
        assert!(remote.lines().count() > 3, "{table}: {remote}");
        assert_eq!(remote, here, "{table}: az:// vs local, row for row");
    }

    // summary and report read the az:// dataset as they read the local one.
    let s_remote = ok(&az.pathlens(&["summary", "--format", "json", "az://lake/pathlens/site1/"]));
    let s_local = ok(&pathlens(&[
        "summary",
        "--format",
        "json",
        local.to_str().unwrap(),
    ]));
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        // Run ids differ between the two runs; the figures must not.
        v.as_object_mut().unwrap().remove("runs");
        v
    };
    assert_eq!(strip(&s_remote), strip(&s_local));
    let html = tmp.path().join("r.html");
    ok(&az.pathlens(&[
        "report",
        "-o",
        html.to_str().unwrap(),
        "az://lake/pathlens/site1/",
    ]));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg"), "{}", page.len());
    // An empty prefix is "nothing found", not an empty summary.
    let none = az.pathlens(&["summary", "az://lake/pathlens/other/"]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no flows file or dataset found"));
}

#[test]
fn a_missing_container_fails_before_reading_and_writes_nothing() {
    let az = Azurite::start();
    let tmp = tempfile::tempdir().unwrap();
    let o = az.pathlens(&["read", sample().to_str().unwrap(), "-w", "az://nosuch/x/"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("az://nosuch/x/") && err.contains("ContainerNotFound"),
        "{err}"
    );
    assert!(
        o.stdout.is_empty(),
        "no summary of a run that never started"
    );
    drop(tmp);
}

#[test]
fn an_unknown_scheme_is_an_error_never_a_local_directory() {
    let tmp = tempfile::tempdir().unwrap();
    for (w, says) in [
        ("gs://bucket/x/", "unknown URL scheme \"gs\""),
        ("az:/lake/x/", "no container or bucket"),
        ("http://host/x/", "unknown URL scheme \"http\""),
    ] {
        let o = Command::new(bin())
            .current_dir(tmp.path())
            .args(["read", sample().to_str().unwrap(), "-w", w])
            .output()
            .unwrap();
        assert!(!o.status.success(), "{w}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{w}: {err}");
    }
    // Nothing was made in the working directory (no `az:` or `gs:` dirs).
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
