//! `codex-execpolicy`: `.rules` files that say which commands are allowed, need
//! approval, or are forbidden.
//!
//! A rules file is Starlark with two builtins:
//!
//! ```starlark
//! prefix_rule(
//!     pattern = ["git", ["status", "log"]],   # words; a list gives alternatives
//!     decision = "allow",                     # allow (default) | prompt | forbidden
//!     justification = "read-only git",        # optional, shown to the user
//!     match = ["git status", ["git", "log", "-p"]],   # must match (checked at load)
//!     not_match = ["git push"],                       # must not match
//! )
//! host_executable(name = "git", paths = ["/usr/bin/git"])
//! ```
//!
//! A command (argv) matches a rule when its first words match the pattern element by
//! element; the decision of a command is the strictest of every matching rule
//! (`forbidden` > `prompt` > `allow`), none when nothing matches. Rules come from
//! `rules/*.rules` in each config layer directory ([`load_layered_policy`]) or from
//! explicit files ([`load_policy`]). See `README.md` for the limits and the JSON shape.
#![deny(missing_docs)]

mod decision;
mod error;
mod layers;
mod parser;
mod policy;
mod rule;

pub use decision::Decision;
pub use error::Location;
pub use error::PolicyError;
pub use error::Position;
pub use layers::RULES_DIR;
pub use layers::RULES_EXTENSION;
pub use layers::load_layered_policy;
pub use layers::load_policy;
pub use layers::rules_files_in_layers;
pub use parser::MAX_EVAL_STEPS;
pub use parser::MAX_HEAP_BYTES;
pub use parser::MAX_RULES;
pub use parser::MAX_RULES_FILE_BYTES;
pub use parser::PolicyParser;
pub use policy::Evaluation;
pub use policy::MatchOptions;
pub use policy::Policy;
pub use rule::PatternToken;
pub use rule::PrefixRule;
pub use rule::RuleMatch;
