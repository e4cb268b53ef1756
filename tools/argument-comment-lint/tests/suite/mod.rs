//! Integration tests of `codex-argument-comment-lint`: the library on the fixtures
//! under `tests/fixtures/`, and the command-line tool.

mod cli;
mod fixtures;
