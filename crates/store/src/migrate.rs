//! Format migrations. The store records its format version in the `meta` table; opening a store written
//! by an older Tern converts it here, in one transaction, before anything reads it. Each arm converts one
//! version to the next, so any older file walks up to [`FORMAT_VERSION`].
//!
//! 1 → 2: format 2 adds the `messages` table (a message that several durable sessions take, stored once)
//! and queue rows that refer to it. Format 1 rows keep their message inline and stay valid, so the step
//! only creates the table and records the new version.

use crate::FORMAT_VERSION;
use crate::error::StoreError;
use crate::tables::{FORMAT_KEY, MESSAGES, META};
use redb::Database;
use std::path::Path;

/// Brings a store at format `from` up to [`FORMAT_VERSION`].
pub(crate) fn migrate(db: &Database, path: &Path, from: u64) -> Result<(), StoreError> {
    let mut version = from;
    while version < FORMAT_VERSION {
        match version {
            1 => {
                let step = || -> Result<(), redb::Error> {
                    let txn = db.begin_write()?;
                    txn.open_table(MESSAGES)?;
                    txn.open_table(META)?.insert(FORMAT_KEY, 2)?;
                    txn.commit()?;
                    Ok(())
                };
                step().map_err(|e| StoreError::from_redb(path, e))?;
                tracing::info!(path = %path.display(), "store migrated from format 1 to 2");
                version = 2;
            }
            found => {
                return Err(StoreError::WrongVersion {
                    path: path.to_path_buf(),
                    found,
                    supported: FORMAT_VERSION,
                });
            }
        }
    }
    Ok(())
}
