//! Prefix rules and what a match reports.

use std::fmt;

use codex_utils_absolute_path::AbsolutePathBuf;
use serde::Deserialize;
use serde::Serialize;

use crate::decision::Decision;
use crate::error::Location;

/// One element of a `prefix_rule` pattern: a word, or a list of alternative words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternToken {
    /// Matches exactly this word.
    Single(String),
    /// Matches any of these words (at least two).
    Alts(Vec<String>),
}

impl PatternToken {
    /// Whether `word` is (one of) this element's word(s).
    pub fn matches(&self, word: &str) -> bool {
        self.alternatives().iter().any(|alt| alt == word)
    }

    /// The words this element accepts.
    pub fn alternatives(&self) -> &[String] {
        match self {
            PatternToken::Single(word) => std::slice::from_ref(word),
            PatternToken::Alts(words) => words,
        }
    }
}

impl fmt::Display for PatternToken {
    /// As written in a rules file: `"git"` or `["status", "log"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternToken::Single(word) => write!(f, "{word:?}"),
            PatternToken::Alts(words) => write!(f, "{words:?}"),
        }
    }
}

/// `prefix_rule(...)`: a command (argv) matches when its first `pattern.len()` words
/// match the pattern element by element. A first element with alternatives is stored
/// as one rule per alternative, so `program` is always a single word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRule {
    /// The pattern; never empty, and its first element is a [`PatternToken::Single`].
    pub pattern: Vec<PatternToken>,
    /// What a match decides.
    pub decision: Decision,
    /// Why the rule exists (shown to the user), if given.
    pub justification: Option<String>,
    /// Where the `prefix_rule` call is.
    pub location: Location,
}

impl PrefixRule {
    /// The first word of the pattern (the program the rule is about).
    pub fn program(&self) -> &str {
        self.pattern
            .first()
            .and_then(|token| token.alternatives().first())
            .map_or("", String::as_str)
    }

    /// The words of `argv` the pattern matched, when it matches.
    pub fn matched_prefix(&self, argv: &[String]) -> Option<Vec<String>> {
        if argv.len() < self.pattern.len() {
            return None;
        }
        let matches = self
            .pattern
            .iter()
            .zip(argv)
            .all(|(token, word)| token.matches(word));
        matches.then(|| argv[..self.pattern.len()].to_vec())
    }

    /// The pattern as written in a rules file: `["git", ["status", "log"]]`.
    pub fn pattern_text(&self) -> String {
        let tokens: Vec<String> = self.pattern.iter().map(ToString::to_string).collect();
        format!("[{}]", tokens.join(", "))
    }
}

/// A rule that matched a command, in the JSON shape of upstream Codex's
/// `codex execpolicy check`:
/// `{"prefixRuleMatch":{"matchedPrefix":[...],"decision":"...","resolvedProgram":"...","justification":"..."}}`
/// (`resolvedProgram` and `justification` left out when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum RuleMatch {
    /// A [`PrefixRule`] matched.
    PrefixRuleMatch {
        /// The words of the command the pattern matched (with the program's basename in
        /// place of its absolute path when matched through `resolved_program`).
        matched_prefix: Vec<String>,
        /// The rule's decision.
        decision: Decision,
        /// The absolute program path, when the rule matched by its basename (see
        /// [`crate::MatchOptions::resolve_host_executables`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resolved_program: Option<AbsolutePathBuf>,
        /// The rule's justification, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        justification: Option<String>,
    },
}

impl RuleMatch {
    /// The matched rule's decision.
    pub fn decision(&self) -> Decision {
        match self {
            RuleMatch::PrefixRuleMatch { decision, .. } => *decision,
        }
    }
}
