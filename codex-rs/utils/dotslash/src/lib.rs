//! Fetch a pinned artifact through a DotSlash file, and prove it is the pinned one.
//!
//! Why: tests that run a shell must run *the same* shell everywhere, or their
//! expectations drift with the host's `/bin/bash`. The repository pins such tools with
//! [DotSlash](https://dotslash-cli.com) files (a JSON body naming, per platform, an
//! artifact by size and digest). [`dotslash_fetch`] resolves one to a local path by
//! running the real `dotslash -- fetch`, and checks the result against the pin, because
//! DotSlash does not re-check files already in its cache.
//!
//! There is deliberately no fallback to a host binary and no variable that swaps in an
//! unpinned one: a missing artifact is an error that says how to seed the cache
//! (`tools/dotslash/seed-test-shells.sh`).
#![deny(missing_docs)]

mod dotslash_file;
mod fetch;

pub use fetch::DotslashError;
pub use fetch::dotslash_fetch;
