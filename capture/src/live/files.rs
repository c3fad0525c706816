//! The output directory of a live run: temporaries a crash left behind are
//! removed at start (they never got their footer, so there is nothing to
//! finish), and the directory tree is handed to the user privileges drop to.

use std::path::{Path, PathBuf};

/// Removes the dot-prefixed `.inprogress` parts under `root/flows` and
/// `root/streams`, logging each; returns them.
pub fn remove_stale(root: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let mut stack = vec![root.join("flows"), root.join("streams"), root.join("calls")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if name.starts_with('.') && name.ends_with(".inprogress") {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        tracing::warn!(file = %path.display(), "removed a temporary file left by an earlier run that did not finish");
                        removed.push(path);
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "cannot remove a stale temporary file");
                    }
                }
            }
        }
    }
    removed
}

/// Gives `root` and every directory below it to `uid:gid`, so the run can
/// still write there after dropping privileges.
///
/// # Errors
/// A directory cannot be changed.
pub fn chown_dirs(root: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        for e in std::fs::read_dir(&dir)?.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod test {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_dot_temporaries_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path().join("flows/date=2026-11-29/hour=3");
        std::fs::create_dir_all(&h).unwrap();
        let stale = h.join(".part-x.parquet.inprogress");
        let done = h.join("part-x.parquet");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&done, b"x").unwrap();
        assert_eq!(remove_stale(d.path()), vec![stale.clone()]);
        assert!(!stale.exists() && done.exists());
    }
}
