//! Shared subscriptions (`$share/{group}/{filter}`, MQTT 5.0 4.8.2): the group key that names one group, and
//! the member list with its round-robin cursor.

use super::{SessionId, SubscriptionEntry};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The prefix that marks a shared subscription's filter.
const SHARE_PREFIX: &str = "$share/";

/// Splits `$share/{group}/{filter}` into `(group, filter)`; `None` for a plain filter or a malformed share
/// (empty group, group with a wildcard, empty filter), which the router then treats as a plain filter.
pub fn parse_shared(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    let (group, inner) = rest.split_once('/')?;
    if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
        return None;
    }
    Some((group, inner))
}

/// Names one shared subscription group: the group name plus the filter (the same group name with two
/// filters is two groups). Cheap to clone (one `Arc`), so every shared [`Route`](super::Route) carries one and
/// the session manager can later ask [`Router::pick_shared`](super::Router::pick_shared) for another member.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedGroupKey(Arc<GroupName>);

#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GroupName {
    group: Box<str>,
    filter: Box<str>,
}

impl SharedGroupKey {
    /// A key from the group name and the filter after `$share/{group}/`.
    pub fn new(group: &str, filter: &str) -> SharedGroupKey {
        SharedGroupKey(Arc::new(GroupName {
            group: group.into(),
            filter: filter.into(),
        }))
    }

    /// The share name between `$share/` and the filter.
    pub fn group(&self) -> &str {
        &self.0.group
    }

    /// The topic filter the group's members subscribed with.
    pub fn filter(&self) -> &str {
        &self.0.filter
    }
}

impl fmt::Debug for SharedGroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "$share/{}/{}", self.group(), self.filter())
    }
}

/// One group's members, stored at the trie node of its filter.
pub(crate) struct SharedGroup {
    pub(crate) key: SharedGroupKey,
    /// Sorted by session id, one entry per member.
    pub(crate) members: Vec<(SessionId, SubscriptionEntry)>,
    /// Where the next round-robin pick starts. Atomic so routing works through `&Router` (read lock only);
    /// races between concurrent routers only affect fairness, never correctness.
    cursor: AtomicUsize,
}

impl SharedGroup {
    pub(crate) fn new(key: SharedGroupKey) -> SharedGroup {
        SharedGroup {
            key,
            members: Vec::new(),
            cursor: AtomicUsize::new(0),
        }
    }

    /// Picks the next member round-robin, skipping `skip` members, preferring ones `is_online`; if none is
    /// online, the first eligible member from the cursor (its session queues the message).
    pub(crate) fn pick(
        &self,
        skip: impl Fn(SessionId, &SubscriptionEntry) -> bool,
        is_online: impl Fn(SessionId) -> bool,
    ) -> Option<(SessionId, SubscriptionEntry)> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % n;
        let mut fallback = None;
        let ordered = self.members[start..].iter().chain(&self.members[..start]);
        for (offset, &(session, entry)) in ordered.enumerate() {
            if skip(session, &entry) {
                continue;
            }
            if is_online(session) {
                if offset != 0 {
                    // Continue after the chosen member, so an offline run is not re-scanned each time.
                    self.cursor.store(start + offset + 1, Ordering::Relaxed);
                }
                return Some((session, entry));
            }
            if fallback.is_none() {
                fallback = Some((session, entry));
            }
        }
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_mqtt_codec::QoS;

    #[test]
    fn parses_share_names() {
        assert_eq!(parse_shared("$share/g/a/b"), Some(("g", "a/b")));
        assert_eq!(parse_shared("$share/g/#"), Some(("g", "#")));
        assert_eq!(parse_shared("$share/g/"), None);
        assert_eq!(parse_shared("$share//a"), None);
        assert_eq!(parse_shared("$share/g+/a"), None);
        assert_eq!(parse_shared("$share/g"), None);
        assert_eq!(parse_shared("a/b"), None);
        assert_eq!(parse_shared("$SYS/a"), None);
    }

    #[test]
    fn key_equality_is_by_name() {
        let a = SharedGroupKey::new("g", "a/+");
        assert_eq!(a, SharedGroupKey::new("g", "a/+"));
        assert_ne!(a, SharedGroupKey::new("g", "a/#"));
        assert_ne!(a, SharedGroupKey::new("h", "a/+"));
        assert_eq!(format!("{a:?}"), "$share/g/a/+");
    }

    fn group(ids: &[SessionId]) -> SharedGroup {
        let mut g = SharedGroup::new(SharedGroupKey::new("g", "t"));
        let entry = SubscriptionEntry {
            qos: QoS::AtLeastOnce,
            no_local: false,
            retain_as_published: false,
            subscription_id: None,
        };
        g.members = ids.iter().map(|&s| (s, entry)).collect();
        g
    }

    #[test]
    fn round_robin_over_online_members() {
        let g = group(&[1, 2, 3]);
        let picks: Vec<_> = (0..6)
            .filter_map(|_| g.pick(|_, _| false, |_| true))
            .map(|p| p.0)
            .collect();
        assert_eq!(picks, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn prefers_online_then_falls_back() {
        let g = group(&[1, 2, 3]);
        for _ in 0..5 {
            assert_eq!(g.pick(|_, _| false, |s| s == 2).map(|p| p.0), Some(2));
        }
        let any = g.pick(|_, _| false, |_| false);
        assert!(any.is_some());
        assert_eq!(g.pick(|s, _| s != 3, |_| false).map(|p| p.0), Some(3));
        assert_eq!(g.pick(|_, _| true, |_| true), None);
        assert_eq!(group(&[]).pick(|_, _| false, |_| true), None);
    }
}
