//! Topic ids: each client's table of normal (registered) ids, the gateway-wide predefined ids, and the
//! mountpoint that moves sensor topics into their own part of the broker's topic space.

use super::config::SnConfig;
use std::collections::HashMap;
use std::sync::Arc;

/// Normal topic ids of one client, registered by it (REGISTER) or by the gateway before a delivery.
#[derive(Debug, Default)]
pub(crate) struct TopicTable {
    by_id: HashMap<u16, Arc<str>, super::FastHash>,
    by_name: HashMap<Arc<str>, u16, super::FastHash>,
    /// Last id handed out; allocation continues after it.
    last: u16,
}

impl TopicTable {
    /// The id of a registered topic name.
    pub(crate) fn id_of(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }

    /// The name behind a registered id.
    pub(crate) fn name_of(&self, id: u16) -> Option<&Arc<str>> {
        self.by_id.get(&id)
    }

    /// The id for `name`: the existing one, or a fresh one (never 0x0000 or 0xFFFF, reserved by the spec).
    /// `None` when the table holds `max` ids already.
    pub(crate) fn register(&mut self, name: &str, max: usize) -> Option<u16> {
        if let Some(id) = self.id_of(name) {
            return Some(id);
        }
        let id = self.next_free(max)?;
        self.insert(id, name);
        Some(id)
    }

    /// An id not in use, without taking it.
    pub(crate) fn next_free(&mut self, max: usize) -> Option<u16> {
        if self.by_id.len() >= max.min(0xFFFE) {
            return None;
        }
        loop {
            self.last = self.last.wrapping_add(1);
            if self.last == 0 || self.last == 0xFFFF {
                continue;
            }
            if !self.by_id.contains_key(&self.last) {
                return Some(self.last);
            }
        }
    }

    /// Records `id` ↔ `name` (after the client's REGACK accepted a gateway REGISTER).
    pub(crate) fn insert(&mut self, id: u16, name: &str) {
        let name: Arc<str> = Arc::from(name);
        if let Some(old) = self.by_id.insert(id, name.clone()) {
            self.by_name.remove(&old);
        }
        self.by_name.insert(name, id);
    }

    /// Forgets an id (the client said it does not know it).
    pub(crate) fn remove(&mut self, id: u16) {
        if let Some(name) = self.by_id.remove(&id) {
            self.by_name.remove(&name);
        }
    }

    /// Ids held.
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// Gateway-wide naming: predefined ids and the mountpoint.
#[derive(Debug)]
pub(crate) struct Naming {
    predefined: HashMap<u16, Arc<str>>,
    predefined_by_name: HashMap<Arc<str>, u16>,
    mountpoint: String,
}

impl Naming {
    pub(crate) fn new(config: &SnConfig) -> Naming {
        let mut predefined = HashMap::new();
        let mut predefined_by_name = HashMap::new();
        for (&id, name) in &config.predefined_topics {
            let name: Arc<str> = Arc::from(name.as_str());
            predefined.insert(id, name.clone());
            predefined_by_name.insert(name, id);
        }
        Naming {
            predefined,
            predefined_by_name,
            mountpoint: config.mountpoint.clone(),
        }
    }

    /// The sensor-side name of a predefined id.
    pub(crate) fn predefined(&self, id: u16) -> Option<&Arc<str>> {
        self.predefined.get(&id)
    }

    /// The predefined id of a sensor-side name.
    pub(crate) fn predefined_id(&self, name: &str) -> Option<u16> {
        self.predefined_by_name.get(name).copied()
    }

    /// Sensor-side topic or filter → the broker's topic space.
    pub(crate) fn mount(&self, name: &str) -> String {
        let mut s = String::with_capacity(self.mountpoint.len() + name.len());
        s.push_str(&self.mountpoint);
        s.push_str(name);
        s
    }

    /// Broker topic → sensor-side name (topics outside the mountpoint are passed unchanged).
    pub(crate) fn unmount<'a>(&self, topic: &'a str) -> &'a str {
        topic.strip_prefix(self.mountpoint.as_str()).unwrap_or(topic)
    }
}

/// True for a topic name a sensor may publish to: non-empty, no wildcard, no NUL.
pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['+', '#', '\0'])
}

/// A short topic name's two octets as a string (`None` if not UTF-8).
pub(crate) fn short_name(raw: [u8; 2]) -> Option<String> {
    std::str::from_utf8(&raw).ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_skip_reserved_values_and_respect_the_cap() {
        let mut t = TopicTable::default();
        assert_eq!(t.register("a", 2), Some(1));
        assert_eq!(t.register("a", 2), Some(1));
        assert_eq!(t.register("b", 2), Some(2));
        assert_eq!(t.register("c", 2), None);
        t.remove(1);
        assert_eq!(t.name_of(1), None);
        assert_eq!(t.register("c", 2), Some(3));
        t.last = 0xFFFE;
        assert_eq!(t.next_free(10), Some(1));
    }

    #[test]
    fn mountpoint_round_trip() {
        let n = Naming::new(&SnConfig {
            mountpoint: "sn/".into(),
            ..SnConfig::default()
        });
        assert_eq!(n.mount("a/b"), "sn/a/b");
        assert_eq!(n.unmount("sn/a/b"), "a/b");
        assert_eq!(n.unmount("x"), "x");
    }
}
