//! Placeholder: filled in by the harness work.
