//! What a rule says about a command.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

/// A rule's verdict. Ordered by strictness: `Allow < Prompt < Forbidden`, so the
/// effective decision of several matching rules is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// The command may run without asking.
    Allow,
    /// Ask the user before running the command.
    Prompt,
    /// Never run the command.
    Forbidden,
}

impl Decision {
    /// Every decision, least strict first.
    pub const ALL: [Decision; 3] = [Decision::Allow, Decision::Prompt, Decision::Forbidden];

    /// `allow`, `prompt` or `forbidden`, as written in rules files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Prompt => "prompt",
            Decision::Forbidden => "forbidden",
        }
    }

    /// The decision named `raw` (`allow`, `prompt`, `forbidden`), if any.
    pub fn parse(raw: &str) -> Option<Decision> {
        Decision::ALL
            .into_iter()
            .find(|decision| decision.as_str() == raw)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
