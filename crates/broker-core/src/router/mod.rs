//! The topic router: which sessions receive a message published on a topic.
//!
//! Subscriptions live in a trie of filter levels (`trie.rs`); routing walks the topic's levels through it, so
//! its cost follows the topic's depth and the wildcard branches that exist, not the number of subscriptions.
//! Shared subscriptions (`$share/{group}/{filter}`) sit in the same trie, one group per (name, filter), and
//! deliver each message to one member chosen round-robin (`shared.rs`).
//!
//! The router only decides *who*; the session manager decides what to do with each [`Route`] (QoS
//! downgrade, queueing, subscription identifiers in the PUBLISH). It is `Send + Sync` and routing takes
//! `&self`, so the broker keeps it behind an `RwLock` and routes under the read lock.

mod shared;
mod trie;

#[cfg(test)]
pub(crate) mod tests;

pub use shared::{SharedGroupKey, parse_shared};

use crate::message::SessionId;
use shared::SharedGroup;
use std::num::NonZeroU32;
use tern_mqtt_codec::QoS;
use trie::Node;

/// One subscription's options as the router needs them (from SUBSCRIBE's options and properties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionEntry {
    /// Maximum QoS the subscriber granted; deliveries are downgraded to it.
    pub qos: QoS,
    /// No Local: don't deliver the session's own publications on this subscription ([MQTT-3.8.3-3]).
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag on forwarded messages ([MQTT-3.3.1-12]/[MQTT-3.3.1-13]).
    pub retain_as_published: bool,
    /// Subscription Identifier to echo in each PUBLISH this subscription causes ([MQTT-3.3.4-3]).
    pub subscription_id: Option<NonZeroU32>,
}

/// The subscription identifiers of one delivery: every matching subscription's identifier
/// ([MQTT-3.3.4-3]). Inline for zero or one identifier, so the common cases never allocate; only a session
/// with several overlapping identified subscriptions gets a `Vec`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SubscriptionIds {
    /// No matching subscription had an identifier.
    #[default]
    None,
    /// Exactly one identifier.
    One(NonZeroU32),
    /// Two or more identifiers, in no particular order.
    Many(Vec<NonZeroU32>),
}

impl SubscriptionIds {
    /// The identifiers as a slice, to copy into the PUBLISH's properties.
    pub fn as_slice(&self) -> &[NonZeroU32] {
        match self {
            SubscriptionIds::None => &[],
            SubscriptionIds::One(id) => std::slice::from_ref(id),
            SubscriptionIds::Many(ids) => ids,
        }
    }

    /// True when no identifier applies.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Adds an identifier (allocates only when going from one to two).
    pub fn push(&mut self, id: NonZeroU32) {
        *self = match std::mem::take(self) {
            SubscriptionIds::None => SubscriptionIds::One(id),
            SubscriptionIds::One(first) => SubscriptionIds::Many(vec![first, id]),
            SubscriptionIds::Many(mut ids) => {
                ids.push(id);
                SubscriptionIds::Many(ids)
            }
        }
    }

    fn extend(&mut self, other: SubscriptionIds) {
        match other {
            SubscriptionIds::None => {}
            SubscriptionIds::One(id) => self.push(id),
            SubscriptionIds::Many(ids) => ids.into_iter().for_each(|id| self.push(id)),
        }
    }
}

impl From<Option<NonZeroU32>> for SubscriptionIds {
    fn from(id: Option<NonZeroU32>) -> SubscriptionIds {
        id.map_or(SubscriptionIds::None, SubscriptionIds::One)
    }
}

/// One delivery decided by [`Router::route`]: a session and the options to deliver with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The receiving session.
    pub session: SessionId,
    /// Maximum QoS for this delivery: the highest among the session's matching subscriptions
    /// ([MQTT-3.3.4-2]); the caller sends `min(message QoS, qos)`.
    pub qos: QoS,
    /// True if any matching subscription has Retain As Published.
    pub retain_as_published: bool,
    /// Identifiers of every matching subscription of the session ([MQTT-3.3.4-3], [MQTT-3.3.4-5]).
    pub subscription_ids: SubscriptionIds,
    /// Set when the delivery comes from a shared subscription, so the session manager can hand the message
    /// to another member ([`Router::pick_shared`]) if this one leaves without acknowledging it.
    pub shared: Option<SharedGroupKey>,
}

/// The subscription table: plain and shared subscriptions of every session, indexed by filter level.
#[derive(Default)]
pub struct Router {
    root: Node,
    /// Subscriptions held (plain ones plus shared memberships).
    count: usize,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds or replaces `session`'s subscription to `filter` (plain, or `$share/{group}/{filter}`).
    /// Returns true if the session already had this subscription, which is then replaced ([MQTT-3.8.4-3]).
    ///
    /// The filter must be valid (the connection checks it with the codec before calling); an invalid one
    /// is stored but matches nothing it should not.
    pub fn subscribe(&mut self, session: SessionId, filter: &str, entry: SubscriptionEntry) -> bool {
        let replaced = match parse_shared(filter) {
            Some((group, inner)) => {
                let node = self.root.entry(inner);
                let index = match node.shared.iter().position(|g| g.key.group() == group) {
                    Some(index) => index,
                    None => {
                        node.shared
                            .push(SharedGroup::new(SharedGroupKey::new(group, inner)));
                        node.shared.len() - 1
                    }
                };
                match node.shared.get_mut(index) {
                    Some(g) => upsert(&mut g.members, session, entry),
                    None => false,
                }
            }
            None => upsert(&mut self.root.entry(filter).subs, session, entry),
        };
        if !replaced {
            self.count += 1;
        }
        replaced
    }

    /// Removes `session`'s subscription to `filter` (same spelling as subscribed, `$share/...` included),
    /// pruning trie nodes nothing uses any more. Returns true if the subscription existed.
    pub fn unsubscribe(&mut self, session: SessionId, filter: &str) -> bool {
        let (inner, group) = match parse_shared(filter) {
            Some((group, inner)) => (inner, Some(group)),
            None => (filter, None),
        };
        let Some(node) = self.root.find_mut(inner) else {
            return false;
        };
        let removed = match group {
            None => remove(&mut node.subs, session),
            Some(group) => match node.shared.iter().position(|g| g.key.group() == group) {
                None => false,
                Some(index) => {
                    let removed = node
                        .shared
                        .get_mut(index)
                        .is_some_and(|g| remove(&mut g.members, session));
                    if node.shared.get(index).is_some_and(|g| g.members.is_empty()) {
                        node.shared.swap_remove(index);
                    }
                    removed
                }
            },
        };
        if removed {
            self.count -= 1;
            self.root.prune(inner);
        }
        removed
    }

    /// Appends to `out` one [`Route`] per receiving session for a message published on `topic`
    /// (a topic name, no wildcards).
    ///
    /// - A session's overlapping plain subscriptions collapse into one route with the highest QoS, every
    ///   subscription identifier and Retain As Published if any has it ([MQTT-3.3.4-2], [MQTT-3.3.4-3]).
    /// - A No Local subscription of `publisher` is skipped ([MQTT-3.8.3-3]).
    /// - Each shared group adds at most one route, to a member chosen round-robin among those `is_online`,
    ///   or any member if none is. A session that is both a plain subscriber and a group member gets one
    ///   route for each, as the spec requires for distinct subscriptions.
    ///
    /// Allocates nothing beyond growing `out` (clear and reuse it between calls), except subscription
    /// identifier lists of sessions with several overlapping identified subscriptions.
    pub fn route(
        &self,
        topic: &str,
        publisher: Option<SessionId>,
        is_online: impl Fn(SessionId) -> bool,
        out: &mut Vec<Route>,
    ) {
        let start = out.len();
        let mut plain_nodes = 0usize;
        self.root.match_topic(topic, |node| {
            let before = out.len();
            for &(session, entry) in &node.subs {
                if entry.no_local && publisher == Some(session) {
                    continue;
                }
                out.push(Route {
                    session,
                    qos: entry.qos,
                    retain_as_published: entry.retain_as_published,
                    subscription_ids: entry.subscription_id.into(),
                    shared: None,
                });
            }
            if out.len() > before {
                plain_nodes += 1;
            }
            for group in &node.shared {
                let skip = |session, entry: &SubscriptionEntry| entry.no_local && publisher == Some(session);
                if let Some((session, entry)) = group.pick(skip, &is_online) {
                    out.push(Route {
                        session,
                        qos: entry.qos,
                        retain_as_published: entry.retain_as_published,
                        subscription_ids: entry.subscription_id.into(),
                        shared: Some(group.key.clone()),
                    });
                }
            }
        });
        // Within one node sessions are unique, so only several matching nodes can yield duplicates.
        if plain_nodes > 1 {
            merge_overlapping(out, start);
        }
    }

    /// Picks another member of a shared group, round-robin, preferring online ones and never `exclude`:
    /// used to re-route a departed member's unacknowledged messages. `None` if no other member remains.
    pub fn pick_shared(
        &self,
        group: &SharedGroupKey,
        exclude: SessionId,
        is_online: impl Fn(SessionId) -> bool,
    ) -> Option<(SessionId, SubscriptionEntry)> {
        self.group(group)?
            .pick(|session, _| session == exclude, is_online)
    }

    /// The members of a shared group with their options, in session order (empty if the group is gone).
    pub fn shared_members(
        &self,
        group: &SharedGroupKey,
    ) -> impl Iterator<Item = (SessionId, SubscriptionEntry)> + '_ {
        self.group(group)
            .into_iter()
            .flat_map(|g| g.members.iter().copied())
    }

    /// Number of subscriptions held: plain ones plus shared-group memberships.
    pub fn subscription_count(&self) -> usize {
        self.count
    }

    /// Number of trie nodes, the root included; walks the trie. For memory diagnostics and leak tests: an
    /// empty router has 1.
    pub fn node_count(&self) -> usize {
        self.root.count()
    }

    fn group(&self, key: &SharedGroupKey) -> Option<&SharedGroup> {
        self.root
            .find(key.filter())?
            .shared
            .iter()
            .find(|g| g.key.group() == key.group())
    }
}

/// Inserts or replaces `session` in a list sorted by session; true if it replaced.
fn upsert(
    list: &mut Vec<(SessionId, SubscriptionEntry)>,
    session: SessionId,
    entry: SubscriptionEntry,
) -> bool {
    match list.binary_search_by_key(&session, |&(s, _)| s) {
        Ok(index) => {
            if let Some(slot) = list.get_mut(index) {
                slot.1 = entry;
            }
            true
        }
        Err(index) => {
            list.insert(index, (session, entry));
            false
        }
    }
}

/// Removes `session` from a list sorted by session; true if it was there.
fn remove(list: &mut Vec<(SessionId, SubscriptionEntry)>, session: SessionId) -> bool {
    match list.binary_search_by_key(&session, |&(s, _)| s) {
        Ok(index) => {
            list.remove(index);
            if list.is_empty() {
                // Give the memory back: churny filters must not keep peak-sized lists.
                list.shrink_to_fit();
            }
            true
        }
        Err(_) => false,
    }
}

/// Collapses plain routes of the same session in `out[start..]` into one, in place: highest QoS, union of
/// identifiers, Retain As Published if any. Shared routes are kept apart.
fn merge_overlapping(out: &mut Vec<Route>, start: usize) {
    let Some(tail) = out.get_mut(start..) else { return };
    tail.sort_unstable_by_key(|r| (r.shared.is_some(), r.session));
    let mut kept = start;
    for next in start + 1..out.len() {
        let (head, rest) = out.split_at_mut(next);
        let (Some(last), Some(route)) = (head.get_mut(kept), rest.first_mut()) else {
            break;
        };
        if last.shared.is_none() && route.shared.is_none() && last.session == route.session {
            last.qos = last.qos.max(route.qos);
            last.retain_as_published |= route.retain_as_published;
            last.subscription_ids
                .extend(std::mem::take(&mut route.subscription_ids));
        } else {
            kept += 1;
            out.swap(kept, next);
        }
    }
    out.truncate(kept + 1);
}
