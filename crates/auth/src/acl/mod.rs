//! The ACL file (TOML): ordered allow/deny rules for publish, subscribe or both, per user, client id, claim
//! or everyone; the first rule that applies decides, else `default`.
//!
//! ```toml
//! default = "deny"                  # or "allow"
//!
//! [[rule]]
//! permission = "allow"              # "allow" | "deny"
//! action = "both"                   # "publish" | "subscribe" | "both" (the default)
//! user = "alice"                    # optional: only this user name
//! client_id = "sensor-1"            # optional: only this client id
//! anonymous = false                 # optional: only anonymous (true) or only authenticated (false) clients
//! claims = { tenant = "acme" }      # optional: only clients whose JWT carries these claim values
//! topics = ["users/%u/#", "devices/%c/+", "tenants/%{claim:tenant}/#"]
//! ```
//!
//! A PUBLISH topic is matched against each pattern as usual. A SUBSCRIBE filter is checked as a set of
//! topics: an `allow` rule applies only when the pattern covers every topic the filter can match (`a/+`
//! under `a/#`, not `#`), a `deny` rule applies when the two share any topic, so `deny secret/#` also
//! refuses a subscription to `#`. A `$share/GROUP/` prefix is removed before matching. Substituted values
//! holding `/`, `+` or `#` never widen a pattern: such an `allow` rule does not apply, such a `deny` rule does.

mod pattern;

pub use pattern::{Pattern, Subst};

use pattern::{Tok, overlap, subset, tokens};
use serde::Deserialize;
use std::collections::BTreeMap;

/// What a rule grants or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Grant.
    Allow,
    /// Refuse.
    Deny,
}

/// Which operation a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// PUBLISH (and will and retained messages, which are publishes).
    Publish,
    /// SUBSCRIBE.
    Subscribe,
    /// Both.
    #[default]
    Both,
}

/// The client an ACL question is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// Authenticated user name; `None` for anonymous clients.
    pub username: Option<&'a str>,
    /// Client id.
    pub client_id: Option<&'a str>,
    /// Claims of a JWT, by name.
    pub claims: &'a [(std::sync::Arc<str>, std::sync::Arc<str>)],
}

/// The operation being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Publishing to a topic name.
    Publish,
    /// Subscribing to a filter.
    Subscribe,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AclFile {
    default: Permission,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    permission: Permission,
    #[serde(default)]
    action: Action,
    user: Option<String>,
    client_id: Option<String>,
    anonymous: Option<bool>,
    #[serde(default)]
    claims: BTreeMap<String, String>,
    topics: Vec<String>,
}

/// One rule, parsed.
#[derive(Debug, Clone)]
struct Rule {
    permission: Permission,
    action: Action,
    user: Option<String>,
    client_id: Option<String>,
    anonymous: Option<bool>,
    claims: BTreeMap<String, String>,
    patterns: Vec<Pattern>,
}

/// A parsed ACL.
#[derive(Debug, Clone)]
pub struct Acl {
    default: Permission,
    rules: Vec<Rule>,
}

/// The outcome of a check, with the deciding rule for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Granted or not.
    pub allowed: bool,
    /// 1-based index of the deciding `[[rule]]`; `None` when the default decided.
    pub rule: Option<usize>,
}

impl Acl {
    /// An ACL with no rules.
    pub fn with_default(default: Permission) -> Acl {
        Acl {
            default,
            rules: Vec::new(),
        }
    }

    /// Parses the TOML text; errors name the line or the rule.
    pub fn parse(text: &str) -> Result<Acl, String> {
        let file: AclFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut rules = Vec::with_capacity(file.rules.len());
        for (i, r) in file.rules.into_iter().enumerate() {
            if r.topics.is_empty() {
                return Err(format!("rule {}: `topics` is empty", i + 1));
            }
            let patterns = r
                .topics
                .iter()
                .map(|t| Pattern::parse(t))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("rule {}: {e}", i + 1))?;
            rules.push(Rule {
                permission: r.permission,
                action: r.action,
                user: r.user,
                client_id: r.client_id,
                anonymous: r.anonymous,
                claims: r.claims,
                patterns,
            });
        }
        Ok(Acl {
            default: file.default,
            rules,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules (the default decides everything).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The permission when no rule applies.
    pub fn default_permission(&self) -> Permission {
        self.default
    }

    /// Decides whether `subject` may perform `op` on `topic` (a topic name for publish, a filter for subscribe).
    pub fn check(&self, subject: &Subject<'_>, op: Op, topic: &str) -> Decision {
        let target = match op {
            Op::Subscribe => strip_share(topic),
            Op::Publish => topic,
        };
        let target = tokens(target);
        let subst = Subst {
            username: subject.username,
            client_id: subject.client_id,
            claims: subject.claims,
        };
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.covers(op) || !rule.selects(subject) {
                continue;
            }
            let allow = rule.permission == Permission::Allow;
            let hit = rule.patterns.iter().any(|p| match p.resolve(&subst) {
                // Fail closed: an unresolvable pattern never grants and always refuses.
                None => !allow,
                Some(p) => matches(op, allow, &target, &p),
            });
            if hit {
                return Decision {
                    allowed: allow,
                    rule: Some(i + 1),
                };
            }
        }
        Decision {
            allowed: self.default == Permission::Allow,
            rule: None,
        }
    }
}

fn matches(op: Op, allow: bool, target: &[Tok<'_>], pattern: &[Tok<'_>]) -> bool {
    match op {
        Op::Publish => subset(target, pattern),
        Op::Subscribe if allow => subset(target, pattern),
        Op::Subscribe => overlap(target, pattern),
    }
}

/// `$share/group/filter` → `filter`.
fn strip_share(filter: &str) -> &str {
    filter
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(filter, |(_, f)| f)
}

impl Rule {
    fn covers(&self, op: Op) -> bool {
        matches!(
            (self.action, op),
            (Action::Both, _) | (Action::Publish, Op::Publish) | (Action::Subscribe, Op::Subscribe)
        )
    }

    fn selects(&self, s: &Subject<'_>) -> bool {
        if let Some(u) = &self.user
            && s.username != Some(u.as_str())
        {
            return false;
        }
        if let Some(c) = &self.client_id
            && s.client_id != Some(c.as_str())
        {
            return false;
        }
        if let Some(anon) = self.anonymous
            && anon != s.username.is_none()
        {
            return false;
        }
        self.claims
            .iter()
            .all(|(k, v)| s.claims.iter().any(|(ck, cv)| &**ck == k && &**cv == v))
    }
}

#[cfg(test)]
mod tests;
