//! [`TlsError`]: every way loading TLS material fails, each naming the file and what to do.

use std::io;
use std::path::PathBuf;

/// Why TLS material could not be loaded or reloaded. The message names the file involved and a remedy, so an
/// operator can act on the log line alone.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the {what} file {}: {source} (check the path and its permissions)", path.display())]
    Read {
        /// Which setting the file came from (`cert`, `key`, `client_ca`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file was read but holds nothing usable.
    #[error("the {what} file {} {problem}", path.display())]
    Invalid {
        /// Which setting the file came from.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do, as a sentence fragment.
        problem: String,
    },
    /// Only one of `cert` and `key` was configured.
    #[error(
        "`{0}` is set without its partner: set both `cert` and `key`, or neither to use the generated development certificate"
    )]
    HalfConfigured(&'static str),
    /// Client certificates were asked for without a CA to check them against.
    #[error(
        "client certificates are requested but no `client_ca` is set: name a PEM bundle of the CAs that issue them"
    )]
    MissingClientCa,
    /// The generated development certificate could not be created or stored.
    #[error("cannot create the development certificate in {}: {reason} (set `data_dir` to a writable directory, or configure `cert` and `key`)", dir.display())]
    Generate {
        /// The directory it was to be written to.
        dir: PathBuf,
        /// What failed.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(String),
}

impl TlsError {
    pub(crate) fn read(what: &'static str, path: &std::path::Path, source: io::Error) -> TlsError {
        TlsError::Read {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(
        what: &'static str,
        path: &std::path::Path,
        problem: impl Into<String>,
    ) -> TlsError {
        TlsError::Invalid {
            what,
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}
