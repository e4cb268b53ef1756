mod basename;
mod errors;
mod layers;
mod matching;

use std::path::Path;

use codex_execpolicy::Evaluation;
use codex_execpolicy::MatchOptions;
use codex_execpolicy::Policy;
use codex_execpolicy::PolicyError;
use codex_execpolicy::PolicyParser;

/// The policy of one rules file named `test.rules` with this text.
pub fn policy(text: &str) -> Policy {
    let mut parser = PolicyParser::new();
    parser.parse_str(Path::new("test.rules"), text).unwrap();
    parser.build()
}

/// The error of one rules file named `test.rules` with this text.
pub fn error(text: &str) -> PolicyError {
    let mut parser = PolicyParser::new();
    parser.parse_str(Path::new("test.rules"), text).unwrap_err()
}

pub fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(ToString::to_string).collect()
}

/// `words` evaluated with the default options (no basename resolution).
pub fn evaluate(policy: &Policy, words: &[&str]) -> Evaluation {
    policy.evaluate(&argv(words), &MatchOptions::default())
}
