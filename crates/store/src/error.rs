//! Why a store could not be opened, each naming the file and what the operator can do.

use std::path::PathBuf;

/// What to tell an operator whose store cannot be opened.
const RECOVER_HINT: &str = "Tern will not start empty over it. To look at it: `tern store check`; to keep \
    it aside and start with an empty store: `tern store recover` (or set `[store] on_corrupt = \"move-aside\"`)";

/// The store could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is damaged: redb's checks or a row failed to decode.
    #[error("store {path} is corrupt or truncated ({detail}). {RECOVER_HINT}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// Written by a newer Tern (or an incompatible redb file format).
    #[error(
        "store {path} has format version {found}, this Tern reads up to {supported}. Run the Tern that \
         wrote it, or `tern store recover` to move it aside and start empty"
    )]
    WrongVersion {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// Another process holds the file.
    #[error("store {path} is in use by another process (is another tern running with this data_dir?)")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// The file system refused (permissions, disk full, missing directory).
    #[error("store {path}: {source} (check that the data directory exists, is writable and has free space)")]
    Io {
        /// The database file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl StoreError {
    /// Maps a redb error met while opening or reading `path`.
    pub(crate) fn from_redb(path: &std::path::Path, e: impl Into<redb::Error>) -> StoreError {
        let path = path.to_path_buf();
        match e.into() {
            redb::Error::DatabaseAlreadyOpen => StoreError::Locked { path },
            redb::Error::UpgradeRequired(v) => StoreError::WrongVersion {
                path,
                found: u64::from(v),
                supported: crate::FORMAT_VERSION,
            },
            // redb reports a file that is not a database, or is cut short, as these I/O errors.
            redb::Error::Io(source)
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                StoreError::Corrupt {
                    path,
                    detail: source.to_string(),
                }
            }
            redb::Error::Io(source) => StoreError::Io { path, source },
            other => StoreError::Corrupt {
                path,
                detail: other.to_string(),
            },
        }
    }

    /// True for damage that `on_corrupt = "move-aside"` / `tern store recover` may set aside.
    pub fn is_corrupt(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::WrongVersion { .. })
    }
}
