//! Integration tests of `codex-sandboxing`, one module per area.

mod golden;
