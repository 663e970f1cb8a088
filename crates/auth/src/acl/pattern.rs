//! ACL topic patterns: MQTT filters whose levels may hold `%u` (user name), `%c` (client id) and
//! `%{claim:NAME}` (a JWT claim), and the two filter relations the ACL needs.

use std::borrow::Cow;

/// One level of a filter, after substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// A literal level.
    Lit(Cow<'a, str>),
    /// `+`
    Plus,
    /// `#` (always the last level).
    Hash,
}

/// A piece of a level with substitutions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    User,
    Client,
    Claim(String),
}

/// A level of a pattern as written in the ACL file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Lit(String),
    Plus,
    Hash,
    Template(Vec<Piece>),
}

/// A parsed ACL pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    levels: Vec<Level>,
}

/// The values substituted into patterns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subst<'a> {
    /// `%u`
    pub username: Option<&'a str>,
    /// `%c`
    pub client_id: Option<&'a str>,
    /// `%{claim:NAME}` looks NAME up here.
    pub claims: &'a [(std::sync::Arc<str>, std::sync::Arc<str>)],
}

impl Pattern {
    /// Parses a pattern; it must be a valid MQTT filter once substitutions are taken as plain text.
    pub fn parse(s: &str) -> Result<Pattern, String> {
        if s.is_empty() {
            return Err("empty topic pattern".into());
        }
        let parts: Vec<&str> = s.split('/').collect();
        let mut levels = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let level = match *part {
                "+" => Level::Plus,
                "#" if i + 1 == parts.len() => Level::Hash,
                p if p.contains(['+', '#']) => {
                    return Err(format!(
                        "{s:?}: '+' and '#' must fill a whole level ('#' the last)"
                    ));
                }
                p if p.contains('%') => {
                    Level::Template(parse_template(p).map_err(|e| format!("{s:?}: {e}"))?)
                }
                p => Level::Lit(p.to_string()),
            };
            levels.push(level);
        }
        Ok(Pattern { levels })
    }

    /// Whether the pattern uses substitutions.
    pub fn is_template(&self) -> bool {
        self.levels.iter().any(|l| matches!(l, Level::Template(_)))
    }

    /// The pattern's levels with values substituted; `None` when a value is missing or holds `/`, `+`, `#`
    /// or NUL (which would widen the pattern).
    pub(crate) fn resolve(&self, subst: &Subst<'_>) -> Option<Vec<Tok<'_>>> {
        self.levels
            .iter()
            .map(|l| match l {
                Level::Lit(s) => Some(Tok::Lit(Cow::Borrowed(s.as_str()))),
                Level::Plus => Some(Tok::Plus),
                Level::Hash => Some(Tok::Hash),
                Level::Template(pieces) => {
                    let mut out = String::new();
                    for p in pieces {
                        let v = match p {
                            Piece::Text(t) => t.as_str(),
                            Piece::User => subst.username?,
                            Piece::Client => subst.client_id?,
                            Piece::Claim(name) => subst
                                .claims
                                .iter()
                                .find(|(k, _)| &**k == name)
                                .map(|(_, v)| &**v)?,
                        };
                        if !matches!(p, Piece::Text(_)) && (v.is_empty() || v.contains(['/', '+', '#', '\0']))
                        {
                            return None;
                        }
                        out.push_str(v);
                    }
                    Some(Tok::Lit(Cow::Owned(out)))
                }
            })
            .collect()
    }
}

fn parse_template(level: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = level;
    while let Some(at) = rest.find('%') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (piece, used) = if let Some(r) = after.strip_prefix('u') {
            (Some(Piece::User), after.len() - r.len())
        } else if let Some(r) = after.strip_prefix('c') {
            (Some(Piece::Client), after.len() - r.len())
        } else if let Some(r) = after.strip_prefix("{claim:") {
            let end = r.find('}').ok_or("unterminated %{claim:…}")?;
            let name = &r[..end];
            if name.is_empty() {
                return Err("empty claim name in %{claim:}".into());
            }
            (Some(Piece::Claim(name.to_string())), "{claim:".len() + end + 1)
        } else if after.starts_with('%') {
            text.push('%');
            (None, 1)
        } else {
            return Err("unknown substitution: use %u, %c, %{claim:NAME} or %% for a literal %".into());
        };
        if let Some(piece) = piece {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
        }
        rest = &after[used..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Splits a topic name or filter into levels.
pub(crate) fn tokens(filter: &str) -> Vec<Tok<'_>> {
    filter
        .split('/')
        .map(|l| match l {
            "+" => Tok::Plus,
            "#" => Tok::Hash,
            l => Tok::Lit(Cow::Borrowed(l)),
        })
        .collect()
}

fn dollar(t: &Tok<'_>) -> bool {
    matches!(t, Tok::Lit(s) if s.starts_with('$'))
}

/// Whether every topic matched by `f` is matched by `p` (for a topic name: whether `p` matches it).
/// Wildcards in the first level never match `$` topics.
pub(crate) fn subset(f: &[Tok<'_>], p: &[Tok<'_>]) -> bool {
    fn go(f: &[Tok<'_>], p: &[Tok<'_>], first: bool) -> bool {
        match (f.first(), p.first()) {
            (_, Some(Tok::Hash)) => !(first && f.first().is_some_and(dollar)),
            (None, None) => true,
            (None, Some(_)) | (Some(_), None) | (Some(Tok::Hash), Some(_)) => false,
            (Some(Tok::Plus), Some(Tok::Plus)) => go(&f[1..], &p[1..], false),
            (Some(Tok::Plus), Some(Tok::Lit(_))) => false,
            (Some(t @ Tok::Lit(_)), Some(Tok::Plus)) => !(first && dollar(t)) && go(&f[1..], &p[1..], false),
            (Some(Tok::Lit(a)), Some(Tok::Lit(b))) => a == b && go(&f[1..], &p[1..], false),
        }
    }
    go(f, p, true)
}

/// Whether some topic is matched by both `f` and `p`.
pub(crate) fn overlap(f: &[Tok<'_>], p: &[Tok<'_>]) -> bool {
    fn go(f: &[Tok<'_>], p: &[Tok<'_>], first: bool) -> bool {
        match (f.first(), p.first()) {
            (Some(Tok::Hash), other) | (other, Some(Tok::Hash)) => !(first && other.is_some_and(dollar)),
            (None, None) => true,
            (None, Some(_)) | (Some(_), None) => false,
            (Some(Tok::Plus), Some(t)) | (Some(t), Some(Tok::Plus)) => {
                !(first && dollar(t)) && go(&f[1..], &p[1..], false)
            }
            (Some(Tok::Lit(a)), Some(Tok::Lit(b))) => a == b && go(&f[1..], &p[1..], false),
        }
    }
    go(f, p, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(f: &str, p: &str) -> bool {
        subset(&tokens(f), &tokens(p))
    }
    fn ovl(f: &str, p: &str) -> bool {
        overlap(&tokens(f), &tokens(p))
    }

    #[test]
    fn subset_relation() {
        assert!(sub("a/b", "a/b") && sub("a/b", "a/+") && sub("a/b", "#") && sub("a", "a/#"));
        assert!(sub("a/+/c", "a/#") && sub("a/+", "a/+") && sub("a/#", "a/#") && sub("#", "#"));
        assert!(!sub("a/#", "a/+") && !sub("a/+", "a/b") && !sub("a/b/c", "a/+") && !sub("a", "a/+"));
        assert!(!sub("#", "a/#") && !sub("b/c", "a/#"));
        assert!(!sub("$SYS/x", "#") && !sub("$SYS/x", "+/x") && sub("$SYS/x", "$SYS/#"));
    }

    #[test]
    fn overlap_relation() {
        assert!(ovl("#", "secret/x") && ovl("+/x", "secret/#") && ovl("a/+", "a/b") && ovl("a", "a/#"));
        assert!(!ovl("a/+", "b/#") && !ovl("a/b", "a/c") && !ovl("a/+/c", "a/b"));
        assert!(!ovl("#", "$SYS/x") && !ovl("+/x", "$SYS/x") && ovl("$SYS/#", "$SYS/x"));
    }

    #[test]
    fn substitution() {
        let claims = [(std::sync::Arc::from("tenant"), std::sync::Arc::from("acme"))];
        let s = Subst {
            username: Some("alice"),
            client_id: Some("c1"),
            claims: &claims,
        };
        let p = Pattern::parse("t/%{claim:tenant}/u-%u/%c/#").unwrap();
        assert!(p.is_template());
        let toks = p.resolve(&s).unwrap();
        assert_eq!(toks, tokens("t/acme/u-alice/c1/#"));
        let evil = Subst {
            username: Some("#"),
            ..s
        };
        assert!(
            p.resolve(&evil).is_none(),
            "a wildcard in a value must not widen the pattern"
        );
        assert!(p.resolve(&Subst { username: None, ..s }).is_none());
        assert_eq!(
            Pattern::parse("a/100%%").unwrap().resolve(&s).unwrap(),
            tokens("a/100%")
        );
    }

    #[test]
    fn bad_patterns() {
        for bad in ["", "a/#/b", "a/b+", "a/%x", "a/%{claim:", "a/%{claim:}"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
