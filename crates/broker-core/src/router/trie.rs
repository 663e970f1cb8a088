//! The subscription trie: one node per filter level, `+` and `#` children kept apart from the literal
//! levels so matching a topic costs one hash lookup per level plus the wildcard branches that exist.
//!
//! Every walk is iterative (filters and topics are peer data and may have tens of thousands of levels), and
//! so is dropping a subtree.

use super::shared::SharedGroup;
use super::{SessionId, SubscriptionEntry};
use std::collections::HashMap;

/// One filter level. The node reached by walking a filter's levels holds that filter's subscribers.
#[derive(Default)]
pub(crate) struct Node {
    /// Literal levels (including empty ones and `$`-prefixed ones).
    children: HashMap<Box<str>, Node>,
    /// The `+` level.
    plus: Option<Box<Node>>,
    /// The `#` level: holds the subscribers of `<this node's filter>/#`; never has children in valid filters.
    hash: Option<Box<Node>>,
    /// Plain subscribers of this node's filter, sorted by session id (one entry per session).
    pub(crate) subs: Vec<(SessionId, SubscriptionEntry)>,
    /// Shared groups subscribed with this node's filter.
    pub(crate) shared: Vec<SharedGroup>,
}

/// Frames the matcher keeps on the stack before spilling to the heap: enough for topics of this many levels.
const INLINE_FRAMES: usize = 32;

impl Node {
    /// True when this node holds subscribers itself (children aside).
    pub(crate) fn has_subscribers(&self) -> bool {
        !self.subs.is_empty() || !self.shared.is_empty()
    }

    fn child_count(&self) -> usize {
        self.children.len() + usize::from(self.plus.is_some()) + usize::from(self.hash.is_some())
    }

    fn child(&self, level: &str) -> Option<&Node> {
        match level {
            "+" => self.plus.as_deref(),
            "#" => self.hash.as_deref(),
            _ => self.children.get(level),
        }
    }

    fn child_mut(&mut self, level: &str) -> Option<&mut Node> {
        match level {
            "+" => self.plus.as_deref_mut(),
            "#" => self.hash.as_deref_mut(),
            _ => self.children.get_mut(level),
        }
    }

    fn child_or_insert(&mut self, level: &str) -> &mut Node {
        match level {
            "+" => self.plus.get_or_insert_with(Box::default),
            "#" => self.hash.get_or_insert_with(Box::default),
            // The key is allocated even when the level exists; subscribing is not the hot path.
            _ => self.children.entry(level.into()).or_default(),
        }
    }

    fn remove_child(&mut self, level: &str) {
        match level {
            "+" => self.plus = None,
            "#" => self.hash = None,
            _ => {
                self.children.remove(level);
            }
        }
    }

    /// The node of `filter`, if it exists.
    pub(crate) fn find(&self, filter: &str) -> Option<&Node> {
        filter.split('/').try_fold(self, |node, level| node.child(level))
    }

    /// The node of `filter`, if it exists, mutably.
    pub(crate) fn find_mut(&mut self, filter: &str) -> Option<&mut Node> {
        filter
            .split('/')
            .try_fold(self, |node, level| node.child_mut(level))
    }

    /// The node of `filter`, created with its missing ancestors.
    pub(crate) fn entry(&mut self, filter: &str) -> &mut Node {
        filter
            .split('/')
            .fold(self, |node, level| node.child_or_insert(level))
    }

    /// After a removal under `filter`: if its node is now empty, removes it and every ancestor that existed
    /// only to lead to it. Call on the root.
    pub(crate) fn prune(&mut self, filter: &str) {
        // First pass, read-only: the deepest node on the path that must stay (the root, or one holding
        // subscribers or other children); its child on the path is the top of the dead chain.
        let mut keep_depth = 0;
        let mut node: &Node = self;
        let levels = filter.split('/').count();
        for (depth, level) in filter.split('/').enumerate() {
            let Some(child) = node.child(level) else { return };
            node = child;
            let is_leaf = depth + 1 == levels;
            if is_leaf {
                if node.has_subscribers() || node.child_count() > 0 {
                    return;
                }
            } else if node.has_subscribers() || node.child_count() > 1 {
                keep_depth = depth + 1;
            }
        }
        let mut keep: &mut Node = self;
        let mut path = filter.split('/');
        for level in path.by_ref().take(keep_depth) {
            match keep.child_mut(level) {
                Some(next) => keep = next,
                None => return,
            }
        }
        if let Some(level) = path.next() {
            keep.remove_child(level);
        }
    }

    /// Number of nodes in this subtree, this one included (for leak tests and memory diagnostics).
    pub(crate) fn count(&self) -> usize {
        let mut stack = vec![self];
        let mut n = 0;
        while let Some(node) = stack.pop() {
            n += 1;
            stack.extend(node.children.values());
            stack.extend(node.plus.as_deref());
            stack.extend(node.hash.as_deref());
        }
        n
    }

    /// Calls `visit` once for every node holding subscribers whose filter matches `topic` (MQTT 4.7): literal
    /// levels, `+` for one level, `#` for the rest including none (`sport/#` matches `sport`), and no wildcard
    /// at the first level matches a topic starting with `$` ([MQTT-4.7.2-1]). Call on the root.
    ///
    /// Cost: the topic's depth times the wildcard branches that exist; no allocation unless a topic is
    /// deeper than [`INLINE_FRAMES`] levels with `+` branches along it.
    pub(crate) fn match_topic<'a>(&'a self, topic: &'a str, mut visit: impl FnMut(&'a Node)) {
        let mut stack = FrameStack::new(self);
        stack.push((self, Some(topic)));
        while let Some(frame) = stack.pop() {
            let (node, rest) = frame;
            let Some(rest) = rest else {
                // Every topic level consumed: this node's filter matches, and so does `<filter>/#`.
                if node.has_subscribers() {
                    visit(node);
                }
                if let Some(hash) = node.hash.as_deref().filter(|h| h.has_subscribers()) {
                    visit(hash);
                }
                continue;
            };
            let (level, tail) = match rest.split_once('/') {
                Some((level, tail)) => (level, Some(tail)),
                None => (rest, None),
            };
            let wildcards_allowed = !(std::ptr::eq(node, self) && level.starts_with('$'));
            if wildcards_allowed {
                if let Some(hash) = node.hash.as_deref().filter(|h| h.has_subscribers()) {
                    visit(hash);
                }
                if let Some(plus) = node.plus.as_deref() {
                    stack.push((plus, tail));
                }
            }
            if let Some(child) = node.children.get(level) {
                stack.push((child, tail));
            }
        }
    }

    fn drain_children_into(&mut self, stack: &mut Vec<Node>) {
        stack.extend(self.children.drain().map(|(_, child)| child));
        stack.extend(self.plus.take().map(|b| *b));
        stack.extend(self.hash.take().map(|b| *b));
    }
}

/// A matcher frame: a node and the topic levels still to match below it (`None`: all consumed).
type Frame<'a> = (&'a Node, Option<&'a str>);

/// The matcher's work stack: on the CPU stack for ordinary topics, spilling to the heap only for deep ones.
struct FrameStack<'a> {
    inline: [Frame<'a>; INLINE_FRAMES],
    inline_len: usize,
    spill: Vec<Frame<'a>>,
}

impl<'a> FrameStack<'a> {
    fn new(filler: &'a Node) -> FrameStack<'a> {
        FrameStack {
            inline: [(filler, None); INLINE_FRAMES],
            inline_len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, frame: Frame<'a>) {
        match self.inline.get_mut(self.inline_len) {
            Some(slot) if self.spill.is_empty() => {
                *slot = frame;
                self.inline_len += 1;
            }
            _ => self.spill.push(frame),
        }
    }

    fn pop(&mut self) -> Option<Frame<'a>> {
        // Frames in `spill` are newer than every inline one, so popping it first keeps LIFO order.
        if let Some(frame) = self.spill.pop() {
            return Some(frame);
        }
        self.inline_len = self.inline_len.checked_sub(1)?;
        self.inline.get(self.inline_len).copied()
    }
}

impl Drop for Node {
    /// Iterative, so dropping a filter of 30 000 levels does not overflow the stack.
    fn drop(&mut self) {
        if self.child_count() == 0 {
            return;
        }
        let mut stack = Vec::new();
        self.drain_children_into(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.drain_children_into(&mut stack);
        }
    }
}
