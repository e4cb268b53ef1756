//! `codex-terminal-detection`: what the programs of this workspace need to know about the
//! terminal they write to, decided in one place: whether stdout or stderr is a terminal,
//! whether to colour it, and how wide it is.
//!
//! Colour follows the common conventions: only for a terminal, never with `NO_COLOR` set
//! (to anything, <https://no-color.org>) or `TERM=dumb`; `CLICOLOR_FORCE` (not `0`) forces
//! it on, for a pager or a CI log that renders colour.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::fd::AsRawFd;

/// One of the two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// Whether this stream is a terminal.
    pub fn is_terminal(self) -> bool {
        match self {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn raw_fd(self) -> i32 {
        match self {
            Stream::Stdout => std::io::stdout().as_raw_fd(),
            Stream::Stderr => std::io::stderr().as_raw_fd(),
        }
    }
}

/// Whether to write colour (ANSI escapes) to `stream`, from the process's environment.
pub fn supports_colour(stream: Stream) -> bool {
    colour_decision(stream.is_terminal(), |name| std::env::var_os(name))
}

/// The decision of [`supports_colour`], given whether the stream is a terminal and the
/// environment (testable without a terminal).
pub fn colour_decision(is_terminal: bool, env: impl Fn(&str) -> Option<OsString>) -> bool {
    if env("CLICOLOR_FORCE").is_some_and(|value| !value.is_empty() && value != "0") {
        return true;
    }
    if env("NO_COLOR").is_some() || env("TERM").is_some_and(|term| term == "dumb") {
        return false;
    }
    is_terminal
}

/// The width of the terminal `stream` writes to, in columns: its window size, else a
/// positive `COLUMNS`; `None` for a stream that is not a terminal and no `COLUMNS`.
pub fn width(stream: Stream) -> Option<u16> {
    window_columns(stream.raw_fd()).or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|columns| columns.trim().parse::<u16>().ok())
            .filter(|columns| *columns > 0)
    })
}

fn window_columns(fd: i32) -> Option<u16> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass; fd is ours.
    let status = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    (status == 0 && size.ws_col > 0).then_some(size.ws_col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn colour_follows_the_terminal_and_the_conventions() {
        let cases = [
            (true, env(&[]), true),
            (false, env(&[]), false),
            (true, env(&[("NO_COLOR", "")]), false),
            (true, env(&[("NO_COLOR", "1")]), false),
            (true, env(&[("TERM", "dumb")]), false),
            (false, env(&[("CLICOLOR_FORCE", "1")]), true),
            (
                true,
                env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
                true,
            ),
            (false, env(&[("CLICOLOR_FORCE", "0")]), false),
        ];
        let decided: Vec<bool> = cases
            .iter()
            .map(|(is_terminal, env, _)| colour_decision(*is_terminal, env))
            .collect();
        let expected: Vec<bool> = cases.iter().map(|(_, _, colour)| *colour).collect();
        assert_eq!(decided, expected);
    }

    #[test]
    fn a_stream_that_is_not_a_terminal_has_no_window() {
        // Under a test runner stdout is a pipe or a file, never a terminal with a window.
        let dev_null = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(window_columns(dev_null.as_raw_fd()), None);
    }
}
