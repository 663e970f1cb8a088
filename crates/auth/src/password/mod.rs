//! Password files: one `user:hash` per line, as Mosquitto writes them. Tern reads argon2id, `$7$`, `$6$` and
//! SCRAM-SHA-256 (RFC 5803) entries and writes argon2id or, with `tern passwd --scram`, SCRAM; lines it does not touch (other users, comments) are written back unchanged.

mod hash;

pub(crate) use hash::constant_time_eq;
pub use hash::{HashCost, HashError, StoredHash};

use std::fmt;
use std::path::Path;

/// Why a password file was refused; names the line.
#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    /// A line is not `user:hash` or its hash is unsupported.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One line of the file, kept in order.
#[derive(Clone)]
enum Line {
    Entry {
        user: String,
        hash: StoredHash,
    },
    /// A comment or blank line, kept verbatim.
    Other(String),
}

/// A parsed password file.
#[derive(Clone, Default)]
pub struct PasswordFile {
    lines: Vec<Line>,
}

impl fmt::Debug for PasswordFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordFile")
            .field("users", &self.len())
            .finish_non_exhaustive()
    }
}

impl PasswordFile {
    /// Parses the text of a password file. Blank lines and lines starting with `#` are kept as they are.
    pub fn parse(text: &str) -> Result<PasswordFile, PasswordFileError> {
        let mut file = PasswordFile::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim_end_matches('\r');
            if trimmed.trim().is_empty() || trimmed.starts_with('#') {
                file.lines.push(Line::Other(trimmed.to_string()));
                continue;
            }
            let Some((user, hash)) = trimmed.split_once(':') else {
                return Err(PasswordFileError::Line {
                    line,
                    reason: "expected user:hash".into(),
                });
            };
            if user.is_empty() {
                return Err(PasswordFileError::Line {
                    line,
                    reason: "empty user name".into(),
                });
            }
            if file.get(user).is_some() {
                return Err(PasswordFileError::Line {
                    line,
                    reason: format!("user {user:?} appears twice"),
                });
            }
            let hash = StoredHash::parse(hash.trim()).map_err(|e| PasswordFileError::Line {
                line,
                reason: format!("user {user:?}: {e}"),
            })?;
            file.lines.push(Line::Entry {
                user: user.to_string(),
                hash,
            });
        }
        Ok(file)
    }

    /// Reads and parses a file; a missing file is an error.
    pub fn load(path: &Path) -> Result<PasswordFile, PasswordFileError> {
        PasswordFile::parse(&std::fs::read_to_string(path)?)
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::Entry { user, hash } => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(hash.as_str());
                }
                Line::Other(text) => out.push_str(text),
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file atomically (a temporary file renamed over it), readable by its owner only on Unix.
    pub fn save(&self, path: &Path) -> Result<(), PasswordFileError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tern-tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users().count()
    }

    /// Whether the file has no users.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// User names in file order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|l| match l {
            Line::Entry { user, .. } => Some(user.as_str()),
            Line::Other(_) => None,
        })
    }

    /// The stored hash of `user`.
    pub fn get(&self, user: &str) -> Option<&StoredHash> {
        self.lines.iter().find_map(|l| match l {
            Line::Entry { user: u, hash } if u == user => Some(hash),
            _ => None,
        })
    }

    /// Sets `user`'s hash, replacing an existing entry in place or appending a new one. Returns whether the
    /// user existed.
    pub fn set(&mut self, user: &str, hash: StoredHash) -> Result<bool, PasswordFileError> {
        if user.is_empty() || user.contains(':') || user.contains('\n') {
            return Err(PasswordFileError::Line {
                line: 0,
                reason: format!("invalid user name {user:?}"),
            });
        }
        for line in &mut self.lines {
            if let Line::Entry { user: u, hash: h } = line
                && u == user
            {
                *h = hash;
                return Ok(true);
            }
        }
        self.lines.push(Line::Entry {
            user: user.to_string(),
            hash,
        });
        Ok(false)
    }

    /// Removes `user`; returns whether it was there.
    pub fn remove(&mut self, user: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry { user: u, .. } if u == user));
        self.lines.len() != before
    }

    /// Checks a password. An unknown user still costs one hash check (against the first entry), so response
    /// time does not tell which users exist.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.get(user) {
            Some(hash) => hash.verify(password),
            None => {
                if let Some(first) = self.users().next().and_then(|u| self.get(u)) {
                    let _ = first.verify(password);
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn edit_keeps_other_lines() {
        let mut f = PasswordFile::default();
        f.set("alice", StoredHash::create("a", CHEAP).unwrap()).unwrap();
        f.set("bob", StoredHash::create("b", CHEAP).unwrap()).unwrap();
        let text = format!("# users\n{}", f.render());
        let mut f = PasswordFile::parse(&text).unwrap();
        assert_eq!(f.users().collect::<Vec<_>>(), ["alice", "bob"]);
        let bob_line = text.lines().nth(2).unwrap().to_string();
        assert!(f.set("alice", StoredHash::create("a2", CHEAP).unwrap()).unwrap());
        assert!(f.verify("alice", b"a2") && !f.verify("alice", b"a"));
        assert!(f.remove("alice") && !f.remove("alice"));
        let out = f.render();
        assert_eq!(out, format!("# users\n{bob_line}\n"));
        assert!(!f.verify("carol", b"b"));
        assert!(
            f.set("bad:name", StoredHash::create("x", CHEAP).unwrap())
                .is_err()
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = PasswordFile::parse("# c\nalice\n").unwrap_err().to_string();
        assert!(err.starts_with("line 2"), "{err}");
        let err = PasswordFile::parse("a:$9$x\n").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("unsupported"), "{err}");
        let h = StoredHash::create("x", CHEAP).unwrap();
        let dup = format!("a:{0}\na:{0}\n", h.as_str());
        assert!(
            PasswordFile::parse(&dup)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn save_and_load() {
        let dir = std::env::temp_dir().join(format!("tern-auth-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("passwd");
        let mut f = PasswordFile::default();
        f.set("u", StoredHash::create("p", CHEAP).unwrap()).unwrap();
        f.save(&path).unwrap();
        assert!(PasswordFile::load(&path).unwrap().verify("u", b"p"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
