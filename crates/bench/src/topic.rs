//! Topic patterns with per-client variables: `%i` (client index), `%c` (client id), `%%` (a percent sign).
//! A pattern is expanded once per connection, never per message.

use anyhow::{Result, bail};

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Index,
    ClientId,
}

/// A parsed topic pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    parts: Vec<Part>,
    source: String,
}

impl TopicPattern {
    /// Parses `pattern`; an unknown `%x` is an error rather than a literal, so typos show.
    pub fn parse(pattern: &str) -> Result<TopicPattern> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let var = match chars.next() {
                Some('%') => {
                    lit.push('%');
                    continue;
                }
                Some('i') => Part::Index,
                Some('c') => Part::ClientId,
                Some(other) => bail!("unknown variable %{other} in topic {pattern:?} (use %i, %c or %%)"),
                None => bail!("topic {pattern:?} ends with a lone %"),
            };
            if !lit.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut lit)));
            }
            parts.push(var);
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        if parts.is_empty() {
            bail!("the topic must not be empty");
        }
        Ok(TopicPattern {
            parts,
            source: pattern.to_owned(),
        })
    }

    /// The topic of client number `index` whose client id is `client_id`.
    pub fn expand(&self, index: usize, client_id: &str) -> String {
        let mut out = String::with_capacity(self.source.len() + 16);
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Index => out.push_str(&index.to_string()),
                Part::ClientId => out.push_str(client_id),
            }
        }
        out
    }

    /// True when the pattern has a variable, so clients publish on different topics.
    pub fn has_variables(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Literal(_)))
    }

    /// A filter matching every expansion: each level holding a variable becomes `+`.
    pub fn wildcard_filter(&self) -> String {
        let mut levels: Vec<String> = vec![String::new()];
        let mut var_in_level = vec![false];
        for p in &self.parts {
            match p {
                Part::Literal(s) => {
                    let mut pieces = s.split('/');
                    if let (Some(first), Some(last)) = (pieces.next(), levels.last_mut()) {
                        last.push_str(first);
                    }
                    for piece in pieces {
                        levels.push(piece.to_owned());
                        var_in_level.push(false);
                    }
                }
                Part::Index | Part::ClientId => {
                    if let Some(v) = var_in_level.last_mut() {
                        *v = true;
                    }
                }
            }
        }
        levels
            .iter()
            .zip(&var_in_level)
            .map(|(l, v)| if *v { "+" } else { l.as_str() })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_variables() {
        let p = TopicPattern::parse("bench/%i/x%c/100%%").expect("valid");
        assert_eq!(p.expand(7, "bench-7"), "bench/7/xbench-7/100%");
        assert!(p.has_variables());
        let p = TopicPattern::parse("a/b").expect("valid");
        assert_eq!(p.expand(3, "c"), "a/b");
        assert!(!p.has_variables());
    }

    #[test]
    fn wildcard_filter_replaces_variable_levels() {
        let f = |s: &str| TopicPattern::parse(s).expect("valid").wildcard_filter();
        assert_eq!(f("bench/%i"), "bench/+");
        assert_eq!(f("bench/dev-%i/temp"), "bench/+/temp");
        assert_eq!(f("%c/%i"), "+/+");
        assert_eq!(f("fixed/topic"), "fixed/topic");
    }

    #[test]
    fn rejects_unknown_variables() {
        assert!(TopicPattern::parse("a/%x").is_err());
        assert!(TopicPattern::parse("a/%").is_err());
        assert!(TopicPattern::parse("").is_err());
    }
}
