//! Placeholder: filled in by the exec-server work.
