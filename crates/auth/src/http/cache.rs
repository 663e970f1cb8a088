//! Publish/subscribe decisions of the HTTP hook, kept for a while so the hot path does not make an HTTP call
//! per message: keyed by (client id, action, topic), each entry good for the configured TTL. Bounded: when
//! full, expired entries go first, and if that frees nothing the whole cache is dropped (a burst of
//! misses, never unbounded memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What is being authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// PUBLISH (and wills).
    Publish,
    /// SUBSCRIBE.
    Subscribe,
}

impl Action {
    /// The `action` value sent to the service.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::Subscribe => "subscribe",
        }
    }
}

impl Action {
    fn index(self) -> usize {
        match self {
            Action::Publish => 0,
            Action::Subscribe => 1,
        }
    }
}

/// One client's decisions, by action then topic: lookups with `&str` keys, no allocation on the hot path.
type PerClient = [HashMap<Box<str>, (bool, Instant)>; 2];

#[derive(Debug, Default)]
struct Inner {
    clients: HashMap<Box<str>, PerClient>,
    entries: usize,
}

/// The decision cache.
#[derive(Debug)]
pub struct DecisionCache {
    ttl: Duration,
    max_entries: usize,
    inner: Mutex<Inner>,
}

impl DecisionCache {
    /// A cache keeping decisions for `ttl` (zero: keeps none), at most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> DecisionCache {
        DecisionCache {
            ttl,
            max_entries: max_entries.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cached decision, if one is younger than the TTL.
    pub fn get(&self, client_id: &str, action: Action, topic: &str, now: Instant) -> Option<bool> {
        let inner = self.inner.lock().ok()?;
        match inner.clients.get(client_id)?[action.index()].get(topic) {
            Some(&(allow, until)) if now < until => Some(allow),
            _ => None,
        }
    }

    /// Remembers a decision until `now + ttl`.
    pub fn insert(&self, client_id: &str, action: Action, topic: &str, allow: bool, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        if inner.entries >= self.max_entries {
            let mut kept = 0;
            inner.clients.retain(|_, per| {
                for map in per.iter_mut() {
                    map.retain(|_, (_, until)| now < *until);
                    kept += map.len();
                }
                per.iter().any(|m| !m.is_empty())
            });
            inner.entries = kept;
            if kept >= self.max_entries {
                tracing::debug!(entries = kept, "HTTP auth decision cache full: cleared");
                inner.clients.clear();
                inner.entries = 0;
            }
        }
        let per = match inner.clients.get_mut(client_id) {
            Some(per) => per,
            None => inner.clients.entry(client_id.into()).or_default(),
        };
        let added = per[action.index()]
            .insert(topic.into(), (allow, now + self.ttl))
            .is_none();
        if added {
            inner.entries += 1;
        }
    }

    /// Entries held (expired ones included until the next cleanup).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries).unwrap_or(0)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = DecisionCache::new(Duration::from_secs(10), 100);
        let t = Instant::now();
        assert_eq!(c.get("c", Action::Publish, "a", t), None);
        c.insert("c", Action::Publish, "a", true, t);
        c.insert("c", Action::Subscribe, "a", false, t);
        assert_eq!(
            c.get("c", Action::Publish, "a", t + Duration::from_secs(9)),
            Some(true)
        );
        assert_eq!(c.get("c", Action::Subscribe, "a", t), Some(false));
        assert_eq!(c.get("other", Action::Publish, "a", t), None);
        assert_eq!(
            c.get("c", Action::Publish, "a", t + Duration::from_secs(10)),
            None
        );
    }

    #[test]
    fn bounded_and_zero_ttl_keeps_nothing() {
        let c = DecisionCache::new(Duration::from_secs(10), 3);
        let t = Instant::now();
        for i in 0..10 {
            c.insert("c", Action::Publish, &i.to_string(), true, t);
            assert!(c.len() <= 3);
        }
        assert_eq!(c.get("c", Action::Publish, "9", t), Some(true));
        let none = DecisionCache::new(Duration::ZERO, 3);
        none.insert("c", Action::Publish, "a", true, t);
        assert!(none.is_empty());
    }
}
