//! Topic names, topic filters and shared subscriptions (4.7, 4.8.2): validation and matching.
//!
//! The codec validates names and filters as they are decoded; the broker's topic trie uses [`matches()`] as its
//! reference semantics and [`parse_shared`] to split `$share/{group}/{filter}`.

/// Longest topic name or filter: the length of a UTF-8 string field.
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Why a topic name or filter is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Names and filters are at least one character long.
    #[error("[MQTT-4.7.3-1] topic must be at least one character long")]
    Empty,
    /// Longer than 65,535 bytes.
    #[error("[MQTT-4.7.3-3] topic longer than 65,535 bytes")]
    TooLong,
    /// A topic name (as opposed to a filter) contained `+` or `#`.
    #[error("[MQTT-4.7.1-1] wildcard character in a topic name")]
    WildcardInName,
    /// `#` not alone in the last level of a filter.
    #[error("[MQTT-4.7.1-2] multi-level wildcard must be last and alone in its level")]
    MultiLevelWildcard,
    /// `+` not alone in its level of a filter.
    #[error("[MQTT-4.7.1-3] single-level wildcard must occupy an entire level")]
    SingleLevelWildcard,
    /// `$share/` without a share name, or a share name containing `/`, `+` or `#`.
    #[error("[MQTT-4.8.2-2] shared subscription group name is empty or contains a wildcard")]
    InvalidShareName,
    /// `$share/{group}` without a filter after the group.
    #[error("[MQTT-4.8.2-1] shared subscription without a topic filter")]
    SharedWithoutFilter,
}

/// Checks a topic name (PUBLISH, will): non-empty, at most 65,535 bytes, no wildcards.
pub fn validate_topic_name(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    if topic.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter (SUBSCRIBE, UNSUBSCRIBE): non-empty, `#` only as the whole last level, `+` only as a
/// whole level. `$share/...` filters are checked as plain filters here; see [`parse_shared`].
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    if filter.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::SingleLevelWildcard);
        }
    }
    Ok(())
}

/// Whether `filter` (valid) matches the topic name `topic` (valid).
///
/// Topics starting with `$` are not matched by filters starting with a wildcard ([MQTT-4.7.2-1]); `a/#` also
/// matches `a` (the parent level).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True when some topic name could match both filters: what a broker needs to fence off part of the topic
/// space (a fence `secret/#` must refuse `secret/+` and `#` too, or they would receive its messages).
/// Leading wildcards don't overlap `$`-levels ([MQTT-4.7.2-1]). Both arguments must be valid filters.
pub fn filters_overlap(a: &str, b: &str) -> bool {
    let mut la = a.split('/');
    let mut lb = b.split('/');
    let mut first = true;
    loop {
        match (la.next(), lb.next()) {
            (None, None) => return true,
            // `x/#` also matches the parent `x`, so a filter that ends where the other has `#` overlaps it.
            (None, Some(rest)) | (Some(rest), None) => {
                return rest == "#" && la.next().is_none() && lb.next().is_none();
            }
            (Some(x), Some(y)) => {
                let wild_x = x == "+" || x == "#";
                let wild_y = y == "+" || y == "#";
                if first && ((wild_x && y.starts_with('$')) || (wild_y && x.starts_with('$'))) {
                    return false;
                }
                if x == "#" || y == "#" {
                    return true;
                }
                if !wild_x && !wild_y && x != y {
                    return false;
                }
            }
        }
        first = false;
    }
}

/// A shared subscription filter `$share/{group}/{filter}`, borrowed from the full filter string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name: messages are distributed among the group's subscribers.
    pub group: &'a str,
    /// The topic filter the group subscribes to.
    pub filter: &'a str,
}

/// Splits a shared subscription filter. `Ok(None)` when `filter` does not start with `$share/`; an error when it
/// does but the group or the filter after it is invalid.
pub fn parse_shared(filter: &str) -> Result<Option<SharedFilter<'_>>, TopicError> {
    let Some(rest) = filter.strip_prefix("$share/") else {
        return Ok(None);
    };
    let Some((group, inner)) = rest.split_once('/') else {
        return Err(if rest.is_empty() || rest.contains(['+', '#']) {
            TopicError::InvalidShareName
        } else {
            TopicError::SharedWithoutFilter
        });
    };
    if group.is_empty() || group.contains(['+', '#']) {
        return Err(TopicError::InvalidShareName);
    }
    if inner.is_empty() {
        return Err(TopicError::SharedWithoutFilter);
    }
    validate_topic_filter(inner)?;
    Ok(Some(SharedFilter { group, filter: inner }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of 4.7.1.2: `sport/tennis/player1/#`.
    #[test]
    fn multi_level_wildcard_examples() {
        let f = "sport/tennis/player1/#";
        assert!(matches(f, "sport/tennis/player1"));
        assert!(matches(f, "sport/tennis/player1/ranking"));
        assert!(matches(f, "sport/tennis/player1/score/wimbledon"));
        assert!(!matches(f, "sport/tennis/player2"));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "sport/tennis"));
        assert_eq!(validate_topic_filter("sport/tennis/#"), Ok(()));
        assert_eq!(
            validate_topic_filter("sport/tennis#"),
            Err(TopicError::MultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("sport/tennis/#/ranking"),
            Err(TopicError::MultiLevelWildcard)
        );
        assert_eq!(validate_topic_filter("#"), Ok(()));
    }

    /// The examples of 4.7.1.3: `sport/tennis/+`, `sport/+`, `+/+`, `/+`, `+`.
    #[test]
    fn single_level_wildcard_examples() {
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(matches("sport/tennis/+", "sport/tennis/player2"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("+", "finance"));
        assert!(matches("+/tennis/#", "sport/tennis/player1"));
        for ok in ["+", "+/tennis/#", "sport/+/player1", "/+", "+/+"] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_topic_filter("sport+"),
            Err(TopicError::SingleLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("sport/+x/y"),
            Err(TopicError::SingleLevelWildcard)
        );
    }

    /// 4.7.2: `$` topics and wildcards at the first level.
    #[test]
    fn dollar_topics() {
        assert!(!matches("#", "$SYS/monitor/Clients"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS"));
    }

    /// 4.7.3: names and filters are case sensitive, may contain spaces, and a leading `/` makes a level.
    #[test]
    fn names_and_literal_matching() {
        assert!(!matches("ACCOUNTS", "Accounts"));
        assert!(matches("Accounts payable", "Accounts payable"));
        assert!(!matches("/finance", "finance"));
        assert!(matches("/finance", "/finance"));
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("a/+/b"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(
            validate_topic_name(&"a".repeat(MAX_TOPIC_LEN + 1)),
            Err(TopicError::TooLong)
        );
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
    }

    #[test]
    fn shared_filters() {
        assert_eq!(parse_shared("sport/#"), Ok(None));
        assert_eq!(
            parse_shared("$share/g1/sport/#"),
            Ok(Some(SharedFilter {
                group: "g1",
                filter: "sport/#"
            }))
        );
        assert_eq!(
            parse_shared("$share/g/+"),
            Ok(Some(SharedFilter {
                group: "g",
                filter: "+"
            }))
        );
        assert_eq!(parse_shared("$share//a"), Err(TopicError::InvalidShareName));
        assert_eq!(parse_shared("$share/g+/a"), Err(TopicError::InvalidShareName));
        assert_eq!(parse_shared("$share/#/a"), Err(TopicError::InvalidShareName));
        assert_eq!(parse_shared("$share/g"), Err(TopicError::SharedWithoutFilter));
        assert_eq!(parse_shared("$share/g/"), Err(TopicError::SharedWithoutFilter));
        assert_eq!(parse_shared("$share/g/a#"), Err(TopicError::MultiLevelWildcard));
        assert_eq!(parse_shared("$share/"), Err(TopicError::InvalidShareName));
    }

    #[test]
    fn overlapping_filters_fence_the_topic_space() {
        let yes = [
            ("secret/#", "secret/+"),
            ("secret/#", "#"),
            ("secret/#", "+/a"),
            ("secret/#", "secret"),
            ("a/+", "+/b"),
            ("a/b", "a/b"),
            ("a", "a/#"),
            ("+", "+"),
            ("$SYS/#", "$SYS/+"),
        ];
        for (a, b) in yes {
            assert!(filters_overlap(a, b), "{a} / {b}");
            assert!(filters_overlap(b, a), "{b} / {a}");
        }
        let no = [
            ("secret/#", "public/#"),
            ("a/+", "a/b/c"),
            ("a", "a/+"),
            ("a/b", "a/c"),
            ("$SYS/#", "#"),
            ("$SYS/#", "+/broker"),
            ("a/b/c", "a/b"),
        ];
        for (a, b) in no {
            assert!(!filters_overlap(a, b), "{a} / {b}");
            assert!(!filters_overlap(b, a), "{b} / {a}");
        }
    }
}
