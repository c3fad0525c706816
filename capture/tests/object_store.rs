//! Object storage as the output (issue 28, point 5): `-w az://…/` against
//! Azurite, Microsoft's Azure Storage emulator, started on loopback by each
//! test with its own workspace and port (`npm install -g azurite`, see
//! `.ci/setup test`). The blobs are read back with the Azure SDK for Python
//! and pyarrow's AzureFileSystem and compared with a local run of the same
//! input; `summary` reads the `az://` dataset too. `s3://` is tested the same
//! way against moto's S3 server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use futures::stream::BoxStream;
use object_store::path::Path as OPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use pathlens_export::{
    Compression, DatasetSink, DatasetTotals, FlowRecord, Store, StoreUrl, WriterError,
    WriterOptions,
};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::netns::{is_root, run, Veth};
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
    // Inside this network namespace (the live test), else on the host.
    ns: Option<String>,
}

impl Azurite {
    /// Azurite on its standard port inside `net`'s namespace, with
    /// `container` created.
    fn start_in(net: &Veth, container: &str) -> Self {
        let mut a = Azurite {
            child: None,
            port: 10000,
            dir: tempfile::tempdir().unwrap(),
            ns: Some(net.ns.clone()),
        };
        a.up();
        a.py(&["create", container]);
        a
    }

    fn start() -> Self {
        let mut a = Azurite {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            ns: None,
        };
        a.up();
        a
    }

    /// `program`, inside the namespace if there is one.
    fn command(&self, program: &str) -> Command {
        match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        }
    }

    /// Starts the emulator (again) on the same port and workspace.
    fn up(&mut self) {
        let child = self
            .command("azurite-blob")
            .args([
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
            ])
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(self.port.to_string())
            .arg("--location")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("azurite-blob is needed: npm install -g azurite (.ci/setup test)");
        self.child = Some(child);
        match &self.ns {
            None => wait_port(self.port, "azurite"),
            Some(_) => {
                let t = Instant::now();
                let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{}", self.port);
                while !self
                    .command("bash")
                    .args(["-c", &probe])
                    .stderr(Stdio::null())
                    .status()
                    .unwrap()
                    .success()
                {
                    assert!(
                        t.elapsed() < Duration::from_secs(30),
                        "azurite did not start"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Stops the emulator; its data stays in the workspace (SIGTERM: on
    /// SIGKILL it would lose the blob index it has not saved yet).
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let t = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn py(&self, args: &[&str]) -> String {
        let port = self.port.to_string();
        let o = self
            .command("python3")
            .arg(repo().join("capture/tests/python/check_store.py"))
            .arg(args[0])
            .arg(&port)
            .args(&args[1..])
            .output()
            .expect("python3 is needed by this test");
        assert!(
            o.status.success(),
            "check_store.py {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The emulator's settings for `pathlens`, and no other Azure ones.
    fn env(&self, c: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AZURE_") || k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.env("AZURE_STORAGE_USE_EMULATOR", "true").env(
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{}", self.port),
        );
    }

    /// `pathlens ARGS` with the emulator's settings and no other Azure ones.
    fn pathlens(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bin());
        self.env(&mut c);
        c.args(args).output().unwrap()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.down();
    }
}

fn python(args: &[&str]) -> String {
    python_script("check_store.py", args)
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

/// An Azure client on the emulator, as `Store::open` makes one from the
/// environment, but built here so faults can be wrapped around it.
fn azure_client(az: &Azurite) -> Arc<dyn ObjectStore> {
    Arc::new(
        object_store::azure::MicrosoftAzureBuilder::new()
            .with_account("devstoreaccount1")
            .with_access_key(
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
            )
            .with_endpoint(format!("http://127.0.0.1:{}/devstoreaccount1", az.port))
            .with_allow_http(true)
            .with_container_name("lake")
            .build()
            .unwrap(),
    )
}

/// Wraps a real client: the first `fail_puts` single PUTs fail, and with
/// `fail_commit` every multipart upload fails at its commit, after its
/// blocks reached the server.
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn ObjectStore>,
    fail_puts: usize,
    fail_commit: bool,
    puts: AtomicUsize,
    commits: Arc<AtomicUsize>,
}

fn injected() -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: "connection reset (injected)".into(),
    }
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[derive(Debug)]
struct FaultyUpload {
    inner: Box<dyn MultipartUpload>,
    commits: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl MultipartUpload for FaultyUpload {
    fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
        self.inner.put_part(data)
    }
    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        Err(injected())
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &OPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.puts.fetch_add(1, Ordering::SeqCst) < self.fail_puts {
            return Err(injected());
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &OPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let up = self.inner.put_multipart_opts(location, opts).await?;
        if !self.fail_commit {
            return Ok(up);
        }
        Ok(Box::new(FaultyUpload {
            inner: up,
            commits: Arc::clone(&self.commits),
        }))
    }
    async fn get_opts(
        &self,
        location: &OPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<OPath>>,
    ) -> BoxStream<'static, object_store::Result<OPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&OPath>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&OPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &OPath,
        to: &OPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// Rows over `hours` hours (one part each), through a dataset sink whose
/// parts go to `store`; returns what `finish` said.
fn write_dataset(
    staging: &Path,
    store: Store,
    hours: i64,
    rows_per_hour: i64,
) -> Result<DatasetTotals, WriterError> {
    let opts = WriterOptions {
        compression: Compression::Zstd,
        run_id: "fault-run-1".into(),
        sensor: "edge1".into(),
        store: Some(store),
    };
    let mut d = DatasetSink::create(staging, opts, Vec::new()).unwrap();
    for h in 0..hours {
        let recs: Vec<FlowRecord> = (0..rows_per_hour)
            .map(|i| {
                let mut r = FlowRecord::example();
                r.flow_id = h * 1_000_000 + i;
                r.first_seen_us = 1_795_248_000_000_000 + h * 3_600_000_000 + i;
                r
            })
            .collect();
        d.write(&recs, &[]).unwrap();
    }
    d.finish(Vec::new())
}

fn blob_names(az: &Azurite, prefix: &str, uncommitted: bool) -> Vec<String> {
    let what = if uncommitted { "all-blobs" } else { "blobs" };
    names(&az.py(&[what, "lake", prefix]))
}

#[test]
fn an_interrupted_upload_leaves_no_object_and_the_run_adds_nothing() {
    let az = Azurite::start();
    az.py(&["create", "lake"]);
    let tmp = tempfile::tempdir().unwrap();
    let url = StoreUrl::parse("az://lake/faults/").unwrap().unwrap();

    // 1. Every part goes up in blocks, and every commit fails: the blocks
    // reached Azurite, yet no blob is visible, and the run fails.
    let commits = Arc::new(AtomicUsize::new(0));
    let faulty = Faulty {
        inner: azure_client(&az),
        fail_puts: 0,
        fail_commit: true,
        puts: AtomicUsize::new(0),
        commits: Arc::clone(&commits),
    };
    let store = Store::with_object_store(url.clone(), Arc::new(faulty))
        .unwrap()
        .with_multipart_above(0);
    let e = write_dataset(&tmp.path().join("a"), store, 2, 2000).unwrap_err();
    assert!(e.to_string().contains("injected"), "{e}");
    assert_eq!(
        commits.load(Ordering::SeqCst),
        pathlens_export::store::ATTEMPTS as usize,
        "the failed upload is tried again, a bounded number of times"
    );
    assert_eq!(blob_names(&az, "faults/", false), Vec::<String>::new());
    assert!(
        !blob_names(&az, "faults/", true).is_empty(),
        "the blocks were staged on the server (uncommitted), so the upload was really interrupted"
    );
    // Nothing is left in the staging directory either.
    assert_eq!(files_below(&tmp.path().join("a")), Vec::<String>::new());

    // 2. The first part goes up; the second part's uploads all fail: the
    // first is taken back, so the failed run adds nothing.
    let faulty = Faulty {
        inner: azure_client(&az),
        fail_puts: 0,
        fail_commit: false,
        puts: AtomicUsize::new(0),
        commits: Arc::new(AtomicUsize::new(0)),
    };
    let second_fails = FailAfter {
        inner: Arc::new(faulty),
        ok_puts: 1,
        puts: AtomicUsize::new(0),
    };
    let store = Store::with_object_store(url.clone(), Arc::new(second_fails)).unwrap();
    assert!(write_dataset(&tmp.path().join("b"), store, 2, 10).is_err());
    assert_eq!(blob_names(&az, "faults/", false), Vec::<String>::new());

    // 3. Two failed tries, then the network is back: each part appears once.
    let faulty = Arc::new(Faulty {
        inner: azure_client(&az),
        fail_puts: 2,
        fail_commit: false,
        puts: AtomicUsize::new(0),
        commits: Arc::new(AtomicUsize::new(0)),
    });
    let store = Store::with_object_store(url, Arc::clone(&faulty) as Arc<dyn ObjectStore>).unwrap();
    let t = write_dataset(&tmp.path().join("c"), store, 2, 10).unwrap();
    assert_eq!((t.rows, t.parts), (20, 2));
    assert_eq!(faulty.puts.load(Ordering::SeqCst), 4, "2 failed + 2 parts");
    let got = blob_names(&az, "faults/", false);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got
        .iter()
        .all(|n| n.starts_with("flows/date=2026-11-21/hour=")));
}

/// Lets `ok_puts` PUTs through, then fails every further one.
#[derive(Debug)]
struct FailAfter {
    inner: Arc<dyn ObjectStore>,
    ok_puts: usize,
    puts: AtomicUsize,
}

impl std::fmt::Display for FailAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FailAfter({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FailAfter {
    async fn put_opts(
        &self,
        location: &OPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.puts.fetch_add(1, Ordering::SeqCst) >= self.ok_puts {
            return Err(injected());
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &OPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &OPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<OPath>>,
    ) -> BoxStream<'static, object_store::Result<OPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&OPath>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&OPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &OPath,
        to: &OPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// moto's S3 server on a loopback port; stopped on drop.
struct Moto {
    child: Child,
    port: u16,
    // Inside this network namespace (the live test), else on the host.
    ns: Option<String>,
}

impl Moto {
    fn start() -> Self {
        Moto::start_in(None)
    }

    fn start_in(ns: Option<String>) -> Self {
        let port = if ns.is_some() { 9000 } else { free_port() };
        let mut c = match &ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "python3"]);
                c
            }
            None => Command::new("python3"),
        };
        let child = c
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto[server] is needed (capture/tests/python/requirements.txt)");
        let m = Moto { child, port, ns };
        let t = Instant::now();
        // Until it answers (inside the namespace: probed from there).
        while m.try_py(&["s3-probe", &port.to_string()]).is_none() {
            assert!(t.elapsed() < Duration::from_secs(60), "moto did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        m
    }

    /// check_store.py ARGS, inside the namespace if there is one.
    fn try_py(&self, args: &[&str]) -> Option<String> {
        let mut c = match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "python3"]);
                c
            }
            None => Command::new("python3"),
        };
        let o = c
            .arg(repo().join("capture/tests/python/check_store.py"))
            .args(args)
            .stderr(Stdio::null())
            .output()
            .expect("python3 is needed by this test");
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    fn py(&self, args: &[&str]) -> String {
        self.try_py(args)
            .unwrap_or_else(|| panic!("check_store.py {args:?} failed"))
    }

    /// moto's settings for `pathlens`, and no other cloud ones.
    fn env(&self, c: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AZURE_") || k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port))
            .env("AWS_ALLOW_HTTP", "true");
    }

    fn pathlens(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bin());
        self.env(&mut c);
        c.args(args).output().unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn read_to_s3_gives_the_objects_of_a_local_run_row_for_row() {
    let s3 = Moto::start();
    let port = s3.port.to_string();
    python(&["s3-create", &port, "lake"]);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    let mut caps = corpus_files();
    caps.push(sample());
    let caps: Vec<&str> = caps.iter().map(|p| p.to_str().unwrap()).collect();
    local_run(&local, &caps);
    let mut args = vec!["read", "--workers", "1", "--sensor", "edge1"];
    args.extend_from_slice(&caps);
    args.extend(["-w", "s3://lake/pathlens/site1/"]);
    let out = ok(&s3.pathlens(&args));
    assert!(
        out.contains("output:   s3://lake/pathlens/site1/flows ("),
        "{out}"
    );
    let keys = python(&["s3-keys", &port, "lake", "pathlens/site1/"]);
    let local_files = python(&["local-files", local.to_str().unwrap()]);
    assert_eq!(names(&keys), names(&local_files), "same layout and names");
    for table in ["flows", "streams"] {
        let remote = python(&["s3-rows", &port, "lake", "pathlens/site1/", table]);
        let here = python(&["local-rows", local.to_str().unwrap(), table]);
        assert!(remote.lines().count() > 3, "{table}: {remote}");
        assert_eq!(remote, here, "{table}: s3:// vs local, row for row");
    }
    let s_remote = ok(&s3.pathlens(&["summary", "--format", "csv", "s3://lake/pathlens/site1/"]));
    let s_local = ok(&pathlens(&[
        "summary",
        "--format",
        "csv",
        local.to_str().unwrap(),
    ]));
    // Run ids differ between the two runs; the figures must not.
    let figures = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("runs,"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(s_local.lines().count() > 50, "{s_local}");
    assert_eq!(figures(&s_remote), figures(&s_local));
}

/// The number after `key=` on the last log line holding `line`.
fn logged(log: &str, line: &str, key: &str) -> u64 {
    let l = log
        .lines()
        .rfind(|l| l.contains(line))
        .unwrap_or_else(|| panic!("no {line:?} in\n{log}"));
    let v = l
        .split(&format!("{key}="))
        .nth(1)
        .unwrap_or_else(|| panic!("no {key} in {l}"));
    v.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

#[test]
fn live_to_azure_survives_an_outage_counting_the_rows_lost() {
    if !is_root("the live object storage tests") {
        return;
    }
    let net = Veth::new("plos", "az");
    let mut az = Azurite::start_in(&net, "lake");
    let tmp = tempfile::tempdir().unwrap();
    // What one replay of the sample gives.
    let reference = tmp.path().join("ref");
    local_run(&reference, &[sample().to_str().unwrap()]);
    let per_replay = python(&["local-rows", reference.to_str().unwrap(), "flows"])
        .lines()
        .count() as u64;
    assert!(per_replay >= 5, "{per_replay}");

    let staging = || {
        let mut v: Vec<String> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("pathlens-live-"))
            .collect();
        v.sort();
        v
    };
    let staged_before = staging();
    let log_path = tmp.path().join("live.log");
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &net.ns]).arg(bin());
    az.env(&mut c);
    let mut live = c
        .args([
            "-v",
            "live",
            "-i",
            "vb",
            "--workers",
            "2",
            "--sensor",
            "edge1",
            "-w",
            "az://lake/live/",
        ])
        .args([
            "--rotate-interval",
            "1s",
            "--idle-timeout",
            "1s",
            "--edge-warmup",
            "1s",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let wait = |text: &str, times: usize| {
        let t = Instant::now();
        while log().matches(text).count() < times {
            assert!(
                t.elapsed() < Duration::from_secs(40),
                "no {times}x {text:?} in\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait("capturing", 1);
    let replay = || {
        net.exec(&[
            "tcpreplay",
            "-q",
            "-i",
            "va",
            "--topspeed",
            sample().to_str().unwrap(),
        ])
    };
    // Each replay's flows end (1 s idle) and are rotated out (1 s) before
    // the next replay starts; otherwise, on a busy machine, the next
    // replay's packets join the same flows and there are fewer rows.
    let settle = || std::thread::sleep(Duration::from_millis(3000));
    // 1. Written while the store is up.
    replay();
    wait("files rotated", 1);
    settle();
    // 2. The store goes away mid-run: that window's rows are lost, counted.
    az.down();
    replay();
    wait("output failed", 1);
    settle();
    // 3. Back again: the next windows are written.
    az.up();
    let rotated = log().matches("files rotated").count();
    replay();
    wait("files rotated", rotated + 1);
    settle();
    run(&["kill", "-INT", &live.id().to_string()]);
    let status = live.wait().unwrap();
    let log = log();
    assert_eq!(status.code(), Some(0), "{log}");

    let written = logged(&log, "capture ended", "rows_written");
    let lost = logged(&log, "capture ended", "rows_lost");
    let dropped = logged(&log, "capture ended", "kernel_dropped");
    eprintln!(
        "live to az://: {written} rows written, {lost} lost, {dropped} dropped by the kernel"
    );
    assert!(lost > 0, "{log}");
    assert!(written >= 2 * per_replay - per_replay / 2, "{log}");
    // Only complete parts are visible, and they hold exactly the rows
    // counted as written; none of the lost ones.
    let blobs = az.py(&["blobs", "lake", "live/"]);
    assert!(
        names(&blobs)
            .iter()
            .all(|n| n.ends_with(".parquet") && !n.contains("/.")),
        "{blobs}"
    );
    let rows = az.py(&["rows", "lake", "live/", "flows"]).lines().count() as u64;
    assert_eq!(rows, written, "{log}");
    if dropped == 0 {
        assert_eq!(
            written + lost,
            3 * per_replay,
            "every row written or counted lost\n{log}"
        );
    }
    // The staging directory went with the run.
    assert_eq!(staging(), staged_before);
}

#[test]
fn retention_lists_partitions_with_sizes_and_deletes_one_whole() {
    let az = Azurite::start();
    az.py(&["create", "lake"]);
    let mut caps = corpus_files();
    caps.truncate(12);
    caps.push(sample());
    let mut args = vec!["-q", "read", "--workers", "1"];
    args.extend(caps.iter().map(|p| p.to_str().unwrap()));
    args.extend(["-w", "az://lake/ret/"]);
    ok(&az.pathlens(&args));
    let url = StoreUrl::parse("az://lake/ret/").unwrap().unwrap();
    let store = Store::with_object_store(url, azure_client(&az)).unwrap();
    let blobs = az.py(&["blobs", "lake", "ret/"]);
    let v: serde_json::Value = serde_json::from_str(&blobs).unwrap();
    let total: u64 = v
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .sum();
    let parts = store.partitions().unwrap();
    // One entry per date/hour directory, oldest first, sizes adding up.
    let mut dirs: Vec<String> = names(&blobs)
        .iter()
        .map(|n| n.split('/').skip(1).take(2).collect::<Vec<_>>().join("/"))
        .collect();
    dirs.sort();
    dirs.dedup();
    assert!(parts.len() >= 5, "{parts:?}");
    assert_eq!(parts.len(), dirs.len(), "{parts:?}\n{dirs:?}");
    assert!(parts.windows(2).all(|w| w[0].start_us() < w[1].start_us()));
    assert_eq!(parts.iter().map(|p| p.bytes).sum::<u64>(), total);
    assert_eq!(
        parts.iter().map(|p| p.objects).sum::<usize>(),
        names(&blobs).len()
    );
    // The one with streams too loses both tables' objects.
    let victim = parts
        .iter()
        .find(|p| p.objects >= 2)
        .unwrap()
        .partition
        .clone();
    let removed = store.delete_partition(&victim).unwrap();
    let after = names(&az.py(&["blobs", "lake", "ret/"]));
    let dir = format!("/date={}/hour={}/", victim.date, victim.hour);
    assert!(
        removed >= 2 && after.iter().all(|n| !n.contains(&dir)),
        "{after:?}"
    );
    assert_eq!(after.len(), names(&blobs).len() - removed);
    assert_eq!(store.partitions().unwrap().len(), parts.len() - 1);
}

// ---- Retention on object storage (issue 28, point 1 for az:// and s3://) ----

const HOUR_US: i64 = 3_600_000_000;

fn now_us() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// The current hour (whole hours since the epoch), once at least `margin`
/// is left before it ends: a test that plants "the current hour" must not
/// see it become the previous one halfway.
fn current_hour(margin: Duration) -> i64 {
    let left = HOUR_US - now_us().rem_euclid(HOUR_US);
    if left < i64::try_from(margin.as_micros()).unwrap() {
        std::thread::sleep(Duration::from_micros(
            u64::try_from(left).unwrap() + 2_000_000,
        ));
    }
    now_us().div_euclid(HOUR_US)
}

/// `date=D/hour=H` of an hour since the epoch.
fn hour_dir(hour: i64) -> String {
    let p = pathlens_export::Partition::of(hour * HOUR_US);
    format!("date={}/hour={}", p.date, p.hour)
}

/// A dataset on a store under test: how objects are planted and listed,
/// and how pathlens is run against it.
trait Lake {
    fn put(&self, key: &str, file: &Path);
    /// The keys below `prefix`, relative to it, run tags masked.
    fn keys(&self, prefix: &str) -> Vec<String>;
    fn run(&self, args: &[&str]) -> Output;
    /// Its settings in the environment of a `pathlens` command.
    fn env(&self, c: &mut Command);
    fn scheme(&self) -> &'static str;
}

impl Lake for Azurite {
    fn put(&self, key: &str, file: &Path) {
        self.py(&["put", "lake", key, file.to_str().unwrap()]);
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        names(&self.py(&["blobs", "lake", prefix]))
    }
    fn run(&self, args: &[&str]) -> Output {
        self.pathlens(args)
    }
    fn env(&self, c: &mut Command) {
        Azurite::env(self, c);
    }
    fn scheme(&self) -> &'static str {
        "az"
    }
}

impl Lake for Moto {
    fn put(&self, key: &str, file: &Path) {
        let port = self.port.to_string();
        self.py(&["s3-put", &port, "lake", key, file.to_str().unwrap()]);
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        let port = self.port.to_string();
        names(&self.py(&["s3-keys", &port, "lake", prefix]))
    }
    fn run(&self, args: &[&str]) -> Output {
        self.pathlens(args)
    }
    fn env(&self, c: &mut Command) {
        Moto::env(self, c);
    }
    fn scheme(&self) -> &'static str {
        "s3"
    }
}

/// One hour's worth of real parts (the sample's flows, streams and calls
/// parts of a local run), planted under any hour of a remote dataset.
struct Planter {
    files: Vec<(String, PathBuf)>,
    /// Bytes of one planted partition.
    bytes: u64,
}

impl Planter {
    fn new(tmp: &Path) -> Self {
        let local = tmp.join("one-hour");
        local_run(&local, &[sample().to_str().unwrap()]);
        let mut files = Vec::new();
        for table in ["flows", "streams", "calls"] {
            for p in files_below(&local.join(table)) {
                let p = PathBuf::from(p);
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                files.push((format!("{table}/{{HOUR}}/{name}"), p));
            }
        }
        assert_eq!(files.len(), 3, "{files:?}");
        let bytes = files
            .iter()
            .map(|(_, p)| std::fs::metadata(p).unwrap().len())
            .sum();
        Planter { files, bytes }
    }

    fn plant(&self, lake: &dyn Lake, prefix: &str, hour: i64) {
        for (key, file) in &self.files {
            lake.put(
                &format!("{prefix}{}", key.replace("{HOUR}", &hour_dir(hour))),
                file,
            );
        }
    }
}

/// The hour directories (`date=…/hour=…`) holding objects, sorted, without
/// duplicates across tables.
fn hours_in(keys: &[String]) -> Vec<String> {
    let mut v: Vec<String> = keys
        .iter()
        .map(|k| k.split('/').skip(1).take(2).collect::<Vec<_>>().join("/"))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The `partition removed` log lines of a run, in order: (partition, reason).
fn removals(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.contains("partition removed"))
        .map(|l| {
            let field = |k: &str| {
                l.split(&format!("{k}="))
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_matches('"')
                    .to_string()
            };
            (field("partition"), field("reason"))
        })
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `read --retention` and `--max-size` into a remote dataset: old hours go
/// by age, then the oldest while over the size, never the current hour;
/// every removal is logged with its reason.
fn read_retention_on(lake: &dyn Lake) {
    let tmp = tempfile::tempdir().unwrap();
    let planter = Planter::new(tmp.path());
    let p = planter.bytes;
    let now = current_hour(Duration::from_secs(300));
    let planted = [now, now - 1, now - 2, now - 3, now - 50, now - 1000];
    for h in planted {
        planter.plant(lake, "ret/", h);
    }
    let sample_hour = "date=2026-11-02/hour=9".to_string();
    let url = format!("{}://lake/ret/", lake.scheme());
    let cap = sample();
    let cap = cap.to_str().unwrap();
    assert_eq!(lake.keys("ret/").len(), 3 * planted.len());

    // 1. By age: the hours that ended more than a day ago go, both whole;
    // the sample's own hour (35 days old) is written after the pruning.
    let o = lake.run(&["read", "--retention", "1d", "-w", &url, cap]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        removals(&err),
        vec![
            (hour_dir(now - 1000), "age".to_string()),
            (hour_dir(now - 50), "age".to_string())
        ],
        "{err}"
    );
    let mut want: Vec<String> = [now - 3, now - 2, now - 1, now].map(hour_dir).to_vec();
    want.push(sample_hour.clone());
    assert_eq!(hours_in(&lake.keys("ret/")), sorted(want.clone()));
    assert_eq!(
        lake.keys("ret/").len(),
        3 * 5,
        "no object of a removed hour left"
    );

    // 2. By size: five hours of about P bytes, at most 3.5 P kept: the
    // two oldest go (the sample's, then now-3), oldest first.
    let max = (p * 7 / 2).to_string();
    let o = lake.run(&["read", "--max-size", &max, "-w", &url, cap]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        removals(&err),
        vec![
            (sample_hour.clone(), "size".to_string()),
            (hour_dir(now - 3), "size".to_string())
        ],
        "P = {p}\n{err}"
    );
    let mut want: Vec<String> = [now - 2, now - 1, now].map(hour_dir).to_vec();
    want.push(sample_hour.clone());
    assert_eq!(hours_in(&lake.keys("ret/")), sorted(want));

    // 3. Size zero: everything goes but the hour being written.
    let o = lake.run(&["read", "--max-size", "0", "-w", &url, cap]);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(removals(&err).len(), 3, "{err}");
    assert_eq!(
        hours_in(&lake.keys("ret/")),
        sorted(vec![hour_dir(now), sample_hour])
    );
    assert_eq!(
        lake.keys("ret/")
            .iter()
            .filter(|k| k.contains(&hour_dir(now)))
            .count(),
        3,
        "the current hour is whole"
    );

    // 4. A free-space floor means nothing on object storage: refused
    // before anything is read or removed.
    let before = lake.keys("ret/");
    let o = lake.run(&[
        "read",
        "--min-free",
        "5%",
        "--retention",
        "1h",
        "-w",
        &url,
        cap,
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--min-free 5%") && err.contains("object storage") && err.contains(&url),
        "{err}"
    );
    assert_eq!(lake.keys("ret/"), before);
}

#[test]
fn read_retention_on_azure_removes_old_hours_oldest_first_never_the_current() {
    let az = Azurite::start();
    az.py(&["create", "lake"]);
    read_retention_on(&az);
}

#[test]
fn read_retention_on_s3_removes_old_hours_oldest_first_never_the_current() {
    let s3 = Moto::start();
    python(&["s3-create", &s3.port.to_string(), "lake"]);
    read_retention_on(&s3);
}

/// A child killed on drop: a failed assertion leaves no sensor running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A log file a child writes, and waits on it.
struct LogWait {
    path: PathBuf,
}

impl LogWait {
    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    /// Until `text` appears `times` times (a generous bound: the machine is
    /// shared, and each rotation lists the store).
    fn until(&self, text: &str, times: usize) {
        let t = Instant::now();
        while self.text().matches(text).count() < times {
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "no {times}x {text:?} in\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `live --retention --max-size` on a store reached inside `net`: pruned
/// at start and at each rotation, every removal logged and counted.
fn live_retention_on(net: &Veth, az: &dyn Lake) {
    let tmp = tempfile::tempdir().unwrap();
    let planter = Planter::new(tmp.path());
    let p = planter.bytes;
    let now = current_hour(Duration::from_secs(300));
    for h in [now, now - 2, now - 3, now - 50, now - 1000] {
        planter.plant(az, "live/", h);
    }

    let log = LogWait {
        path: tmp.path().join("live.log"),
    };
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &net.ns]).arg(bin());
    az.env(&mut c);
    let url = format!("{}://lake/live/", az.scheme());
    // At most 1.5 P: after the old hours, only the current one fits.
    let max = (p * 3 / 2).to_string();
    let mut live = Reaped(
        c.args(["-v", "live", "-i", "vb", "--workers", "1", "-w", &url])
            .args(["--retention", "1d", "--max-size", &max])
            .args(["--rotate-interval", "1s", "--idle-timeout", "1s"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log.path).unwrap())
            .spawn()
            .unwrap(),
    );
    // 1. At start, before the capture: by age, then the oldest by size.
    log.until("capturing", 1);
    let at_start = removals(&log.text());
    assert_eq!(
        at_start,
        vec![
            (hour_dir(now - 1000), "age".to_string()),
            (hour_dir(now - 50), "age".to_string()),
            (hour_dir(now - 3), "size".to_string()),
            (hour_dir(now - 2), "size".to_string()),
        ],
        "P = {p}\n{}",
        log.text()
    );
    assert_eq!(hours_in(&az.keys("live/")), vec![hour_dir(now)]);

    // 2. An old hour that appears meanwhile goes at a later rotation (its
    // objects are uploaded one by one, so a rotation may find only some
    // of them: then the next one takes the rest).
    planter.plant(az, "live/", now - 30);
    log.until("partition removed", 5);
    let t = Instant::now();
    while hours_in(&az.keys("live/")) != vec![hour_dir(now)] {
        assert!(t.elapsed() < Duration::from_secs(90), "{}", log.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    // 3. Rows captured meanwhile land in the current hour, which stays
    // however small --max-size is.
    net.exec(&[
        "tcpreplay",
        "-q",
        "-i",
        "va",
        "--topspeed",
        sample().to_str().unwrap(),
    ]);
    log.until("files rotated", 1);
    run(&["kill", "-INT", &live.0.id().to_string()]);
    assert_eq!(live.0.wait().unwrap().code(), Some(0), "{}", log.text());
    let text = log.text();
    let all = removals(&text);
    assert!(
        all[4..]
            .iter()
            .all(|r| *r == (hour_dir(now - 30), "age".to_string())),
        "{text}"
    );
    // Each removal logged is counted (the same counter as the metric).
    assert_eq!(
        logged(&text, "capture ended", "partitions_removed"),
        all.len() as u64,
        "{text}"
    );
    let keys = az.keys("live/");
    assert_eq!(hours_in(&keys), vec![hour_dir(now)], "{keys:?}");
    assert!(
        keys.len() > 3,
        "the planted parts and the live ones: {keys:?}"
    );
}

#[test]
fn live_retention_on_azure_prunes_at_start_and_at_each_rotation_counted() {
    if !is_root("the live object storage tests") {
        return;
    }
    let net = Veth::new("plos", "ret");
    let az = Azurite::start_in(&net, "lake");
    live_retention_on(&net, &az);
}

#[test]
fn live_retention_on_s3_prunes_at_start_and_at_each_rotation_counted() {
    if !is_root("the live object storage tests") {
        return;
    }
    let net = Veth::new("plos", "s3ret");
    let s3 = Moto::start_in(Some(net.ns.clone()));
    s3.py(&["s3-create", "9000", "lake"]);
    live_retention_on(&net, &s3);
}
