//! Retained messages: the last retained message of each topic, handed to new subscribers ([MQTT-3.3.1-5]).
//!
//! Messages sit in a trie of topic levels, so a subscription's filter walks only the branches it can match
//! (`a/b/+` looks at the children of `a/b`, not at every retained message). Limits on count and bytes
//! bound the memory a flood of retained publications can take. Expiry is tracked in a time-ordered index;
//! time is an argument, as everywhere in the core.

use crate::message::Message;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tern_mqtt_codec::ByteStr;

#[cfg(test)]
mod tests;

/// Why a retained message was not stored; the caller maps it to a reason code (Quota exceeded, 0x97) or
/// simply does not retain the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetainedError {
    /// Storing the message would exceed the store's message count or byte limit; the store is unchanged.
    #[error("retained store full: limits are {max_messages} messages and {max_bytes} bytes")]
    Full {
        /// The configured message limit.
        max_messages: usize,
        /// The configured byte limit (topic plus payload, per [`Message::size`]).
        max_bytes: usize,
    },
}

/// One topic level of the retained trie.
#[derive(Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    msg: Option<Arc<Message>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.msg.is_none() && self.children.is_empty()
    }
}

impl Drop for Node {
    /// Iterative, so dropping a topic of 30 000 levels does not overflow the stack.
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let mut stack: Vec<Node> = self.children.drain().map(|(_, n)| n).collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.drain().map(|(_, n)| n));
        }
    }
}

/// The retained messages of the broker, one per topic, with count and byte limits.
pub struct RetainedStore {
    root: Node,
    len: usize,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    /// Messages with an expiry, ordered by when they expire (topic breaks ties).
    expiries: BTreeSet<(Instant, ByteStr)>,
}

impl RetainedStore {
    /// An empty store holding at most `max_messages` messages and `max_bytes` bytes (topic plus payload);
    /// pass `usize::MAX` for no limit.
    pub fn new(max_messages: usize, max_bytes: usize) -> RetainedStore {
        RetainedStore {
            root: Node::default(),
            len: 0,
            bytes: 0,
            max_messages,
            max_bytes,
            expiries: BTreeSet::new(),
        }
    }

    /// Stores `msg` as its topic's retained message, replacing the previous one ([MQTT-3.3.1-5]); an empty
    /// payload deletes the topic's retained message instead and is not stored ([MQTT-3.3.1-6],
    /// [MQTT-3.3.1-7]). Returns [`RetainedError::Full`] and changes nothing when the limits would be exceeded.
    pub fn set(&mut self, msg: Arc<Message>) -> Result<(), RetainedError> {
        if msg.payload.is_empty() {
            self.remove(&msg.topic);
            return Ok(());
        }
        let old = self.get(&msg.topic).map(|m| m.size());
        let len = self.len + usize::from(old.is_none());
        let bytes = (self.bytes - old.unwrap_or(0)).saturating_add(msg.size());
        if len > self.max_messages || bytes > self.max_bytes {
            return Err(RetainedError::Full {
                max_messages: self.max_messages,
                max_bytes: self.max_bytes,
            });
        }
        if let Some(at) = msg.expires_at {
            self.expiries.insert((at, msg.topic.clone()));
        }
        let node = msg.topic.split('/').fold(&mut self.root, |node, level| {
            node.children.entry(level.into()).or_default()
        });
        if let Some(previous) = node.msg.replace(msg) {
            Self::forget_expiry(&mut self.expiries, &previous, node.msg.as_deref());
        }
        self.len = len;
        self.bytes = bytes;
        Ok(())
    }

    /// Deletes `topic`'s retained message, if any, and returns it.
    pub fn remove(&mut self, topic: &str) -> Option<Arc<Message>> {
        let node = topic
            .split('/')
            .try_fold(&mut self.root, |node, level| node.children.get_mut(level))?;
        let old = node.msg.take()?;
        Self::forget_expiry(&mut self.expiries, &old, None);
        self.len -= 1;
        self.bytes -= old.size();
        self.prune(topic);
        Some(old)
    }

    /// The retained message of exactly `topic`.
    pub fn get(&self, topic: &str) -> Option<&Arc<Message>> {
        topic
            .split('/')
            .try_fold(&self.root, |node, level| node.children.get(level))?
            .msg
            .as_ref()
    }

    /// Appends to `out` every unexpired retained message whose topic matches `filter` (a plain filter:
    /// the caller strips `$share/{group}/` or skips retained delivery for shared subscriptions). Wildcards
    /// at the first level skip `$` topics ([MQTT-4.7.2-1]). Walks only the trie branches the filter allows.
    pub fn matching(&self, filter: &str, now: Instant, out: &mut Vec<Arc<Message>>) {
        let mut push = |node: &Node| {
            if let Some(msg) = node.msg.as_ref().filter(|m| !m.is_expired(now)) {
                out.push(Arc::clone(msg));
            }
        };
        let mut stack: Vec<(&Node, Option<&str>)> = vec![(&self.root, Some(filter))];
        while let Some((node, rest)) = stack.pop() {
            let Some(rest) = rest else {
                push(node);
                continue;
            };
            let is_root = std::ptr::eq(node, &self.root);
            let (level, tail) = match rest.split_once('/') {
                Some((level, tail)) => (level, Some(tail)),
                None => (rest, None),
            };
            let visible = |name: &str| !(is_root && name.starts_with('$'));
            match level {
                "#" => {
                    // `sport/#` matches `sport` itself and everything below it.
                    if !is_root {
                        push(node);
                    }
                    let mut below: Vec<&Node> = node
                        .children
                        .iter()
                        .filter(|(name, _)| visible(name))
                        .map(|(_, n)| n)
                        .collect();
                    while let Some(n) = below.pop() {
                        push(n);
                        below.extend(n.children.values());
                    }
                }
                "+" => {
                    stack.extend(
                        node.children
                            .iter()
                            .filter(|(name, _)| visible(name))
                            .map(|(_, n)| (n, tail)),
                    );
                }
                _ => stack.extend(node.children.get(level).map(|n| (n, tail))),
            }
        }
    }

    /// Deletes every message expired at `now`; returns how many. Call when [`next_expiry`](Self::next_expiry)
    /// is due.
    pub fn remove_expired(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while let Some((at, topic)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.expiries.pop_first();
            if self.remove(&topic).is_some() {
                removed += 1;
            }
        }
        removed
    }

    /// When the next message expires, for the caller's timer.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held, counted as [`Message::size`] (topic plus payload), the unit of the byte limit.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True when no message is retained.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every retained message, expired ones included, in no particular order: for the durable store to
    /// snapshot, and to restore by calling [`set`](Self::set) with each.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Message>> {
        let mut stack = vec![&self.root];
        std::iter::from_fn(move || {
            while let Some(node) = stack.pop() {
                stack.extend(node.children.values());
                if let Some(msg) = &node.msg {
                    return Some(msg);
                }
            }
            None
        })
    }

    /// Number of trie nodes, the root included (for leak tests and memory diagnostics).
    pub fn node_count(&self) -> usize {
        let mut stack = vec![&self.root];
        let mut n = 0;
        while let Some(node) = stack.pop() {
            n += 1;
            stack.extend(node.children.values());
        }
        n
    }

    /// Drops `old`'s expiry entry unless `current` (the message now in its slot) uses the very same entry.
    fn forget_expiry(expiries: &mut BTreeSet<(Instant, ByteStr)>, old: &Message, current: Option<&Message>) {
        if let Some(at) = old.expires_at
            && current.and_then(|m| m.expires_at) != Some(at)
        {
            expiries.remove(&(at, old.topic.clone()));
        }
    }

    /// Removes the chain of now-empty nodes ending at `topic`'s node.
    fn prune(&mut self, topic: &str) {
        let levels = topic.split('/').count();
        let mut keep_depth = 0;
        let mut node = &self.root;
        for (depth, level) in topic.split('/').enumerate() {
            let Some(child) = node.children.get(level) else {
                return;
            };
            node = child;
            if depth + 1 == levels {
                if !node.is_empty() {
                    return;
                }
            } else if node.msg.is_some() || node.children.len() > 1 {
                keep_depth = depth + 1;
            }
        }
        let mut path = topic.split('/');
        let mut keep = &mut self.root;
        for level in path.by_ref().take(keep_depth) {
            match keep.children.get_mut(level) {
                Some(next) => keep = next,
                None => return,
            }
        }
        if let Some(level) = path.next() {
            keep.children.remove(level);
        }
    }
}
