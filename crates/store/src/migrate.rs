//! Format migrations. The store records its format version in the `meta` table; opening a store written
//! by an older Tern converts it here, in one transaction, before anything reads it. Format 1 is the first,
//! so there is nothing older to convert yet: a future format N adds an arm `N - 1 => …` rewriting the rows
//! that changed and storing N.

use crate::FORMAT_VERSION;
use crate::error::StoreError;
use redb::Database;
use std::path::Path;

/// Brings a store at format `from` up to [`FORMAT_VERSION`].
pub(crate) fn migrate(_db: &Database, path: &Path, from: u64) -> Result<(), StoreError> {
    match from {
        FORMAT_VERSION => Ok(()),
        found => Err(StoreError::WrongVersion {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        }),
    }
}
