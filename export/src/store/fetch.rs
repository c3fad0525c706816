//! Reading a dataset on object storage back: its visible parts copied into
//! a local directory of the same layout, which `summary` and `report` then
//! read as they read a local dataset; the directory goes when it drops.

use super::{Store, StoreError, StoreUrl};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A local copy of (part of) a dataset on object storage.
pub struct Mirror {
    dir: PathBuf,
    /// Objects copied.
    pub objects: usize,
}

impl Mirror {
    /// The dataset root of the copy.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a key relative to the dataset is a part a reader sees: a
/// `.parquet` file none of whose path segments is hidden (dot- or
/// underscore-named, as writers and engines use for work in progress).
pub fn visible(rel: &str) -> bool {
    rel.ends_with(".parquet")
        && rel
            .split('/')
            .all(|s| !s.is_empty() && !s.starts_with('.') && !s.starts_with('_'))
}

/// Copies the visible parts of `url` for which `keep` holds (given the key
/// relative to the dataset) into a new directory under the system's
/// temporary directory.
///
/// # Errors
/// The store cannot be opened or listed, an object cannot be read, or the
/// local copy cannot be written.
pub fn mirror(url: &StoreUrl, keep: impl Fn(&str) -> bool) -> Result<Mirror, StoreError> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let store = Store::open(url)?;
    let dir = std::env::temp_dir().join(format!(
        "pathlens-mirror-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let local = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Local { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(local(&dir))?;
    let mut m = Mirror { dir, objects: 0 };
    for o in store.list("")? {
        if !visible(&o.rel) || !keep(&o.rel) {
            continue;
        }
        let to = o.rel.split('/').fold(m.dir.clone(), |p, s| p.join(s));
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d).map_err(local(d))?;
        }
        store.get_file(&o.rel, &to)?;
        m.objects += 1;
    }
    Ok(m)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn only_finished_parts_are_read() {
        assert!(visible("flows/date=2026-11-21/hour=8/part-a.parquet"));
        assert!(visible("x.parquet"));
        assert!(!visible(
            "flows/date=2026-11-21/hour=8/.part-a.parquet.inprogress"
        ));
        assert!(!visible("flows/_temporary/part-a.parquet"));
        assert!(!visible("flows/date=2026-11-21/hour=8/_SUCCESS"));
        assert!(!visible("flows//a.parquet"));
    }
}
