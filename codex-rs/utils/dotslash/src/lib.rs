//! Fetches pinned DotSlash artifacts (work in progress).
