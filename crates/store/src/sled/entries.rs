//! Registry entries in sled: one tree, each value the entry's version (8 bytes, big-endian) and its
//! record. A write is a compare-and-swap on the whole value, flushed before it returns.

use std::ops::Bound;

use ::sled::IVec;
use hourglass_core::AccountId;

use super::{Inner, from_sled};
use crate::registry::{self, Raw};
use crate::{Error, Version};

/// Splits a stored value into its version and record.
fn split(name: &str, value: &IVec) -> Result<Raw, Error> {
    let (version, record) = value
        .split_first_chunk::<8>()
        .ok_or_else(|| Error::corrupt(format!("registry entry {name} is shorter than its version")))?;
    Ok((Version(u64::from_be_bytes(*version)), record.to_vec()))
}

impl Inner {
    pub(super) fn read_entries(&self, keys: &[registry::Key]) -> Result<Vec<Option<Raw>>, Error> {
        keys.iter()
            .map(|key| {
                let name = key.name();
                match self.registry.get(name.as_bytes()).map_err(from_sled)? {
                    Some(value) => split(&name, &value).map(Some),
                    None => Ok(None),
                }
            })
            .collect()
    }

    /// Writes an entry if it is still at `expected`, and flushes. Blocks on the disk.
    pub(super) fn write_entry(&self, name: &str, expected: Version, bytes: &[u8]) -> Result<bool, Error> {
        self.check_failure()?;
        let current = self.registry.get(name.as_bytes()).map_err(from_sled)?;
        let version = match &current {
            Some(value) => split(name, value)?.0,
            None => Version(0),
        };
        if version != expected {
            return Ok(false);
        }
        let mut next = Vec::with_capacity(8 + bytes.len());
        next.extend_from_slice(&(version.0 + 1).to_be_bytes());
        next.extend_from_slice(bytes);
        self.swap_durably(&self.registry, name.as_bytes(), current, next)
    }

    /// Replaces `current` with `next` at `key` of `tree` if `current` is still there, and flushes
    /// before it returns true; returns false when another write got there first. A write or flush the
    /// disk refuses fails the store. Blocks on the disk.
    pub(super) fn swap_durably(
        &self,
        tree: &::sled::Tree,
        key: &[u8],
        current: Option<IVec>,
        next: Vec<u8>,
    ) -> Result<bool, Error> {
        let swapped = tree
            .compare_and_swap(key, current, Some(next))
            .map_err(|error| self.fail(format!("a write failed: {error}")))?;
        if swapped.is_err() {
            return Ok(false);
        }
        self.db
            .flush()
            .map_err(|error| self.fail(format!("a flush failed: {error}")))?;
        self.check_directory()?;
        Ok(true)
    }

    pub(super) fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let prefix = registry::templates_prefix(account);
        let start = match after {
            Some(after) => Bound::Excluded(format!("{prefix}{after}").into_bytes()),
            None => Bound::Included(prefix.clone().into_bytes()),
        };
        let mut listed = Vec::new();
        for item in self.registry.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
            if listed.len() >= limit {
                break;
            }
            let (name, value) = item.map_err(from_sled)?;
            let Some(member) = name.strip_prefix(prefix.as_bytes()) else {
                break;
            };
            let member = String::from_utf8_lossy(member).into_owned();
            listed.push((member, split(&String::from_utf8_lossy(&name), &value)?.1));
        }
        Ok(listed)
    }
}
