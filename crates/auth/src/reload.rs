//! Files reloaded when they change: a poller thread compares each file's modification time, length and
//! inode with the last load and re-reads it; a file that no longer parses keeps the previous version (logged).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

/// A value loaded from a file, replaced when the file changes.
pub struct Watched<T> {
    path: PathBuf,
    what: &'static str,
    load: fn(&Path) -> Result<T, String>,
    /// The version in force; readers clone the `Arc` under a read lock held for no longer than that.
    current: RwLock<Arc<T>>,
    /// The stamp of the loaded version; only the poller (or a test) takes it.
    stamp: Mutex<Option<Stamp>>,
}

impl<T> fmt::Debug for Watched<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("what", &self.what)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Watched<T> {
    /// Loads the file now; an error here is a start-up error.
    pub fn open(
        path: &Path,
        what: &'static str,
        load: fn(&Path) -> Result<T, String>,
    ) -> Result<Watched<T>, String> {
        let before = stamp(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        let value = load(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        Ok(Watched {
            path: path.to_path_buf(),
            what,
            load,
            current: RwLock::new(Arc::new(value)),
            stamp: Mutex::new(Some(before)),
        })
    }

    /// The version in force.
    pub fn get(&self) -> Arc<T> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The watched path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file if it changed since the last load. `Ok(true)` when a new version is in force; on a
    /// parse error the old version stays and the error is returned (and logged).
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let mut last = self.stamp.lock().unwrap_or_else(|e| e.into_inner());
        let now = match stamp(&self.path) {
            Ok(s) => s,
            Err(e) => {
                // Editors replace files by rename; a brief absence is not a change.
                return Err(format!(
                    "{} {}: {e}; keeping the loaded version",
                    self.what,
                    self.path.display()
                ));
            }
        };
        if *last == Some(now) {
            return Ok(false);
        }
        *last = Some(now);
        match (self.load)(&self.path) {
            Ok(value) => {
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
                tracing::info!(file = %self.path.display(), "{} reloaded", self.what);
                Ok(true)
            }
            Err(e) => {
                let msg = format!(
                    "{} {}: {e}; keeping the previous version",
                    self.what,
                    self.path.display()
                );
                tracing::warn!("{msg}");
                Err(msg)
            }
        }
    }
}

/// Anything the poller can refresh.
pub trait Reload: Send + Sync {
    /// Re-reads the underlying file if it changed.
    fn reload(&self);
}

impl<T: Send + Sync + 'static> Reload for Watched<T> {
    fn reload(&self) {
        if let Err(e) = self.reload_if_changed() {
            tracing::debug!("{e}");
        }
    }
}

/// Starts a thread that polls `files` every `interval`; it ends once all of them are dropped.
pub fn spawn_poller(files: Vec<Weak<dyn Reload>>, interval: Duration) -> std::io::Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("tern-auth-reload".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let mut alive = false;
                for f in &files {
                    if let Some(f) = f.upgrade() {
                        alive = true;
                        f.reload();
                    }
                }
                if !alive {
                    return;
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(p: &Path) -> Result<u32, String> {
        std::fs::read_to_string(p)
            .map_err(|e| e.to_string())?
            .trim()
            .parse()
            .map_err(|_| "not a number".into())
    }

    #[test]
    fn reloads_on_change_and_keeps_old_on_error() {
        let dir = std::env::temp_dir().join(format!("tern-auth-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n");
        std::fs::write(&path, "1").unwrap();
        let w = Watched::open(&path, "number file", load).unwrap();
        assert_eq!(*w.get(), 1);
        assert_eq!(w.reload_if_changed(), Ok(false));
        std::fs::write(&path, "22").unwrap();
        assert_eq!(w.reload_if_changed(), Ok(true));
        assert_eq!(*w.get(), 22);
        std::fs::write(&path, "bad").unwrap();
        assert!(w.reload_if_changed().is_err());
        assert_eq!(*w.get(), 22, "a broken file keeps the previous version");
        std::fs::remove_file(&path).unwrap();
        assert!(w.reload_if_changed().is_err());
        assert_eq!(*w.get(), 22);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(Watched::open(&path, "number file", load).is_err());
    }
}
