//! A loaded policy and how a command is evaluated against it.

use std::collections::BTreeMap;
use std::path::Path;

use codex_utils_absolute_path::AbsolutePathBuf;
use serde::Deserialize;
use serde::Serialize;

use crate::decision::Decision;
use crate::rule::PrefixRule;
use crate::rule::RuleMatch;

/// How [`Policy::evaluate`] matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// When no rule matches a command whose first word is an absolute path literally,
    /// match the rules for its basename instead (`/usr/bin/git` → `git`), reporting the
    /// path as `resolvedProgram`. When the policy declares `host_executable(name, paths)`
    /// for that basename, only those exact paths may resolve to it.
    pub resolve_host_executables: bool,
}

/// Every rule of the rules files that were loaded, in load order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub(crate) rules: Vec<PrefixRule>,
    pub(crate) host_executables: BTreeMap<String, Vec<AbsolutePathBuf>>,
}

/// The result of evaluating one command, in the JSON shape of upstream Codex's
/// `codex execpolicy check`: `{"matchedRules":[...],"decision":"..."}`, `decision` left
/// out when no rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Every rule that matched, in load order.
    pub matched_rules: Vec<RuleMatch>,
    /// The strictest decision of `matched_rules` (`forbidden` > `prompt` > `allow`);
    /// `None` when nothing matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl Evaluation {
    /// An evaluation of these matches: the decision is the strictest of theirs.
    pub fn from_matches(matched_rules: Vec<RuleMatch>) -> Self {
        let decision = matched_rules.iter().map(RuleMatch::decision).max();
        Self {
            matched_rules,
            decision,
        }
    }

    /// The JSON text `codex execpolicy check` prints (without the final newline):
    /// compact, or pretty-printed with two-space indentation.
    pub fn to_json(&self, pretty: bool) -> String {
        let result = if pretty {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        // Strings, lists and enums only: serialising cannot fail.
        result.unwrap_or_default()
    }
}

impl Policy {
    /// A policy with no rules: every command evaluates to no decision.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The rules, in load order (a first pattern element with alternatives gives one
    /// rule per alternative).
    pub fn rules(&self) -> &[PrefixRule] {
        &self.rules
    }

    /// The `host_executable` declarations: for each program name, the absolute paths
    /// that may resolve to it (the union of every declaration for the name).
    pub fn host_executables(&self) -> &BTreeMap<String, Vec<AbsolutePathBuf>> {
        &self.host_executables
    }

    /// Every rule that matches `argv`, in load order. Rules whose first word is
    /// `argv[0]` literally come first; only when none matches, and only with
    /// [`MatchOptions::resolve_host_executables`], are the rules of the basename of an
    /// absolute `argv[0]` tried (see there).
    pub fn matches(&self, argv: &[String], options: &MatchOptions) -> Vec<RuleMatch> {
        let exact: Vec<RuleMatch> = self
            .rules
            .iter()
            .filter_map(|rule| rule_match(rule, argv, /*resolved_program*/ None))
            .collect();
        if !exact.is_empty() || !options.resolve_host_executables {
            return exact;
        }
        self.basename_matches(argv)
    }

    /// Evaluates `argv`: every matching rule and the strictest decision.
    pub fn evaluate(&self, argv: &[String], options: &MatchOptions) -> Evaluation {
        Evaluation::from_matches(self.matches(argv, options))
    }

    fn basename_matches(&self, argv: &[String]) -> Vec<RuleMatch> {
        let Some((first, rest)) = argv.split_first() else {
            return Vec::new();
        };
        if !Path::new(first).is_absolute() {
            return Vec::new();
        }
        let Ok(program) = AbsolutePathBuf::try_from_absolute(first) else {
            return Vec::new();
        };
        let Some(basename) = program.file_name().and_then(|name| name.to_str()) else {
            return Vec::new();
        };
        if let Some(paths) = self.host_executables.get(basename)
            && !paths.contains(&program)
        {
            return Vec::new();
        }
        let renamed: Vec<String> = std::iter::once(basename.to_string())
            .chain(rest.iter().cloned())
            .collect();
        self.rules
            .iter()
            .filter_map(|rule| rule_match(rule, &renamed, Some(&program)))
            .collect()
    }
}

fn rule_match(
    rule: &PrefixRule,
    argv: &[String],
    resolved_program: Option<&AbsolutePathBuf>,
) -> Option<RuleMatch> {
    let matched_prefix = rule.matched_prefix(argv)?;
    Some(RuleMatch::PrefixRuleMatch {
        matched_prefix,
        decision: rule.decision,
        resolved_program: resolved_program.cloned(),
        justification: rule.justification.clone(),
    })
}
