//! Object storage as the home of a dataset: `az://CONTAINER/PATH/` (Azure
//! Blob Storage, ADLS Gen2) and `s3://BUCKET/PATH/`, through the Arrow
//! project's `object_store` crate.
//!
//! A part is written to a local staging file exactly as for a local dataset,
//! then sent as one object: a single PUT up to [`SINGLE_PUT_MAX`], a multipart
//! upload (Azure blocks, S3 parts) committed in one request above it. Either
//! way the object appears under its final name only when complete; a failed
//! multipart upload is aborted, and its staged blocks are never visible. A
//! failed upload is tried [`ATTEMPTS`] times with a doubling pause.
//!
//! The crate's I/O is async: each [`Store`] owns a current-thread tokio
//! runtime and blocks on it, so the rest of pathlens stays synchronous and
//! no thread pool is started.

pub mod fetch;
pub mod retention;
mod url;

pub use url::{Scheme, StoreUrl, UrlError};

use futures::StreamExt as _;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Parts up to this size go up in one PUT; larger ones as a multipart upload.
pub const SINGLE_PUT_MAX: u64 = 32 << 20;
/// Size of each block of a multipart upload.
const CHUNK: usize = 16 << 20;
/// Blocks of one multipart upload in flight at once.
const IN_FLIGHT: usize = 2;
/// Tries at one upload or deletion before it counts as failed.
pub const ATTEMPTS: u32 = 3;
/// Pause after the first failed try; doubled after each further one.
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// An object storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not one this build can use.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The client could not be set up (e.g. no account name for `az://`).
    #[error("{url}: {error}")]
    Open {
        /// The dataset URL.
        url: String,
        /// The cause (its text already holds the chain of causes).
        error: object_store::Error,
    },
    /// A request failed (after the tries it is given).
    #[error("{url}: {error}")]
    Request {
        /// The object or prefix, as a URL.
        url: String,
        /// The cause (its text already holds the chain of causes).
        error: object_store::Error,
    },
    /// A local staging or download file could not be read or written.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The I/O runtime could not be started.
    #[error("starting the object storage runtime: {0}")]
    Runtime(std::io::Error),
}

/// An object below a dataset's prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key relative to the dataset (`flows/date=…/hour=…/part-….parquet`).
    pub rel: String,
    /// Bytes.
    pub size: u64,
    /// Last modified, µs since the epoch (UTC).
    pub modified_us: i64,
}

struct Inner {
    url: StoreUrl,
    os: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
    pause: Duration,
    single_put_max: u64,
}

/// A dataset's object storage: a client for one container or bucket and
/// the dataset's key prefix in it. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.url)
    }
}

fn retry_config() -> object_store::RetryConfig {
    // The client's own retries cover one request; `ATTEMPTS` covers the
    // whole upload on top. Both bounded, so a dead endpoint costs seconds.
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(30),
    }
}

impl Store {
    /// A client for `url` with credentials from the environment: for
    /// `az://`, `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`,
    /// `AZURE_STORAGE_SAS_KEY`, a service principal (`AZURE_STORAGE_CLIENT_ID`,
    /// `…_CLIENT_SECRET`, `…_TENANT_ID`), workload identity, or else the
    /// managed identity of the VM; `AZURE_STORAGE_USE_EMULATOR=true` for
    /// Azurite (`AZURITE_BLOB_STORAGE_URL` moves it). For `s3://`, the
    /// `AWS_*` variables, web identity, ECS or EC2 instance credentials.
    ///
    /// # Errors
    /// Missing settings (e.g. no account name), or no runtime.
    pub fn open(url: &StoreUrl) -> Result<Store, StoreError> {
        let open = |error| StoreError::Open {
            url: url.to_string(),
            error,
        };
        let root = format!(
            "{}://{}",
            match url.scheme {
                Scheme::Azure => "az",
                Scheme::S3 => "s3",
            },
            url.bucket
        );
        let os: Arc<dyn ObjectStore> = match url.scheme {
            Scheme::Azure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(root)
                    .with_retry(retry_config())
                    .build()
                    .map_err(open)?,
            ),
            Scheme::S3 => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(root)
                    .with_retry(retry_config())
                    .build()
                    .map_err(open)?,
            ),
        };
        Store::with_object_store(url.clone(), os)
    }

    /// A store over any `object_store` client (tests wrap one to inject
    /// faults); `url` gives the prefix and the names in messages.
    ///
    /// # Errors
    /// The runtime cannot be started.
    pub fn with_object_store(url: StoreUrl, os: Arc<dyn ObjectStore>) -> Result<Store, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        Ok(Store {
            inner: Arc::new(Inner {
                url,
                os,
                rt,
                pause: FIRST_PAUSE,
                single_put_max: SINGLE_PUT_MAX,
            }),
        })
    }

    /// Sends parts larger than `bytes` as multipart uploads (default
    /// [`SINGLE_PUT_MAX`]); takes effect only before the store is cloned.
    #[must_use]
    pub fn with_multipart_above(mut self, bytes: u64) -> Self {
        if let Some(i) = Arc::get_mut(&mut self.inner) {
            i.single_put_max = bytes;
        }
        self
    }

    /// The dataset's URL.
    pub fn url(&self) -> &StoreUrl {
        &self.inner.url
    }

    fn key(&self, rel: &str) -> Key {
        Key::from(self.inner.url.key(rel))
    }

    fn shown(&self, rel: &str) -> String {
        format!("{}{}", self.inner.url, rel.trim_start_matches('/'))
    }

    fn request(&self, rel: &str) -> impl FnOnce(object_store::Error) -> StoreError + '_ {
        let url = self.shown(rel);
        move |error| StoreError::Request { url, error }
    }

    /// Lists one key under the prefix: the credentials work and the
    /// container or bucket exists, before anything is written.
    ///
    /// # Errors
    /// The listing fails (no such container, credentials refused, no route).
    pub fn check(&self) -> Result<(), StoreError> {
        let prefix = self.key("");
        let first = self
            .inner
            .rt
            .block_on(async { self.inner.os.list(Some(&prefix)).next().await });
        match first {
            Some(Err(e)) => Err(self.request("")(e)),
            _ => Ok(()),
        }
    }

    /// Sends the local file `local` as the object `rel` (relative to the
    /// dataset), all or nothing, tried up to [`ATTEMPTS`] times.
    ///
    /// # Errors
    /// Every try failed; no object is left under the name by this call.
    pub fn put_file(&self, rel: &str, local: &Path) -> Result<(), StoreError> {
        let key = self.key(rel);
        self.tried(rel, || async { self.put_once(&key, local).await })
    }

    /// Removes the object `rel`; an object already gone is no error.
    ///
    /// # Errors
    /// Every try failed.
    pub fn delete(&self, rel: &str) -> Result<(), StoreError> {
        let key = self.key(rel);
        self.tried(rel, || async {
            match self.inner.os.delete(&key).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                r => r.map_err(Failure::Store),
            }
        })
    }

    /// Every object below `rel_dir` (relative to the dataset; `""` for all).
    ///
    /// # Errors
    /// The listing failed.
    pub fn list(&self, rel_dir: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let dir = rel_dir.trim_end_matches('/');
        let prefix = self.key(dir);
        let base = self.inner.url.prefix.clone();
        let metas: Vec<_> = self
            .inner
            .rt
            .block_on(async { self.inner.os.list(Some(&prefix)).collect::<Vec<_>>().await });
        let mut out = Vec::with_capacity(metas.len());
        for m in metas {
            let m = m.map_err(self.request(dir))?;
            let key = m.location.to_string();
            let rel = if base.is_empty() {
                key
            } else {
                key.strip_prefix(&base)
                    .map(|r| r.trim_start_matches('/').to_string())
                    .unwrap_or(key)
            };
            out.push(ObjectInfo {
                rel,
                size: m.size,
                modified_us: m.last_modified.timestamp_micros(),
            });
        }
        out.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(out)
    }

    /// Copies the object `rel` into the local file `local`.
    ///
    /// # Errors
    /// The object cannot be read, or the file written.
    pub fn get_file(&self, rel: &str, local: &Path) -> Result<(), StoreError> {
        let key = self.key(rel);
        let bytes = self.inner.rt.block_on(async {
            match self.inner.os.get(&key).await {
                Ok(g) => g.bytes().await,
                Err(e) => Err(e),
            }
        });
        let bytes = bytes.map_err(self.request(rel))?;
        std::fs::write(local, &bytes).map_err(|source| StoreError::Local {
            path: local.to_path_buf(),
            source,
        })
    }

    fn tried<F, Fut>(&self, rel: &str, op: F) -> Result<(), StoreError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>>,
    {
        let mut pause = self.inner.pause;
        let mut attempt = 1;
        loop {
            match self.inner.rt.block_on(op()) {
                Ok(()) => return Ok(()),
                // A local file that cannot be read will not get better.
                Err(Failure::Local(e)) => return Err(e),
                Err(Failure::Store(e)) if attempt >= ATTEMPTS => {
                    return Err(self.request(rel)(e));
                }
                Err(Failure::Store(e)) => {
                    tracing::warn!(object = %self.shown(rel), attempt, error = %e, "object storage request failed; trying again");
                    std::thread::sleep(pause);
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn put_once(&self, key: &Key, local: &Path) -> Result<(), Failure> {
        let io = |source| {
            Failure::Local(StoreError::Local {
                path: local.to_path_buf(),
                source,
            })
        };
        let mut f = std::fs::File::open(local).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        if len <= self.inner.single_put_max {
            let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            f.read_to_end(&mut data).map_err(io)?;
            self.inner
                .os
                .put(key, PutPayload::from(data))
                .await
                .map_err(Failure::Store)?;
            return Ok(());
        }
        let upload = self
            .inner
            .os
            .put_multipart(key)
            .await
            .map_err(Failure::Store)?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, CHUNK);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(io(e));
                }
            };
            if let Err(e) = w.wait_for_capacity(IN_FLIGHT).await {
                // Staged blocks are never visible; abort frees them.
                let _ = w.abort().await;
                return Err(Failure::Store(e));
            }
            w.write(buf.get(..n).unwrap_or_default());
        }
        // `finish` aborts the upload itself when the commit fails.
        w.finish().await.map(drop).map_err(Failure::Store)
    }
}

/// Why one try failed: worth another try, or not.
enum Failure {
    Store(object_store::Error),
    Local(StoreError),
}
