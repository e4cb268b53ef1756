//! Locating a block of lines inside a file, tolerating the small differences
//! (whitespace, typographic punctuation) that creep into hand-written patches.

/// How strictly two lines are compared; tried in this order.
const PASSES: [fn(&str, &str) -> bool; 4] = [exact, equal_trim_end, equal_trim, equal_normalised];

/// Index in `lines` where `pattern` starts, searching from `start`; with
/// `eof`, prefer a match that ends at the end of `lines`.
///
/// Four comparison passes run in order, each over the whole range before the
/// next is tried: exact; ignoring trailing whitespace; ignoring leading and
/// trailing whitespace; and finally with Unicode punctuation normalised (every
/// Unicode dash or hyphen becomes `-`, curly and angle single quotes `'`,
/// curly double quotes and `«` `»` become `"`, and unusual spaces such as
/// U+00A0 become ` `) before trimming.
///
/// With `eof`, the position whose match ends at the last line is tried first
/// with all four passes; only if it matches under none of them does the
/// search fall back to the ordinary forward search from `start`. That
/// position is only considered when it is not before `start`.
///
/// An empty `pattern` matches at `start` (whatever its value). A pattern
/// longer than `lines`, or a `start` past the last possible match, gives
/// `None`.
pub fn seek_sequence(
    lines: &[String],
    pattern: &[String],
    start: usize,
    eof: bool,
) -> Option<usize> {
    if pattern.is_empty() {
        return Some(start);
    }
    let last_start = lines.len().checked_sub(pattern.len())?;
    if start > last_start {
        return None;
    }
    if eof
        && PASSES
            .iter()
            .any(|same| matches_at(lines, pattern, last_start, *same))
    {
        return Some(last_start);
    }
    PASSES.iter().find_map(|same| {
        (start..=last_start).find(|&index| matches_at(lines, pattern, index, *same))
    })
}

/// Whether `pattern` matches `lines` at `index` when lines are compared with
/// `same`. Out-of-range positions never match.
fn matches_at(
    lines: &[String],
    pattern: &[String],
    index: usize,
    same: fn(&str, &str) -> bool,
) -> bool {
    let Some(window) = index
        .checked_add(pattern.len())
        .and_then(|end| lines.get(index..end))
    else {
        return false;
    };
    window
        .iter()
        .zip(pattern)
        .all(|(line, wanted)| same(line, wanted))
}

fn exact(a: &str, b: &str) -> bool {
    a == b
}

fn equal_trim_end(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

fn equal_trim(a: &str, b: &str) -> bool {
    a.trim() == b.trim()
}

/// Trimming first is equivalent to trimming after normalising: every space
/// character that [`normalise_char`] maps to ' ' is already Unicode
/// whitespace, which `trim` removes.
fn equal_normalised(a: &str, b: &str) -> bool {
    a.trim()
        .chars()
        .map(normalise_char)
        .eq(b.trim().chars().map(normalise_char))
}

/// Maps typographic punctuation and unusual spaces to their ASCII look-alike.
fn normalise_char(c: char) -> char {
    match c {
        // Unicode dashes and hyphens (general category Pd) and the minus sign.
        '\u{058A}'
        | '\u{05BE}'
        | '\u{1400}'
        | '\u{1806}'
        | '\u{2010}'..='\u{2015}'
        | '\u{2212}'
        | '\u{2E17}'
        | '\u{2E1A}'
        | '\u{2E3A}'
        | '\u{2E3B}'
        | '\u{2E40}'
        | '\u{2E5D}'
        | '\u{301C}'
        | '\u{3030}'
        | '\u{30A0}'
        | '\u{FE31}'
        | '\u{FE32}'
        | '\u{FE58}'
        | '\u{FE63}'
        | '\u{FF0D}'
        | '\u{10EAD}' => '-',
        // Curly and angle single quotes.
        '\u{2018}'..='\u{201B}' | '\u{2039}' | '\u{203A}' => '\'',
        // Curly double quotes and guillemets.
        '\u{201C}'..='\u{201F}' | '\u{00AB}' | '\u{00BB}' => '"',
        // Non-breaking and other Unicode spaces.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => ' ',
        other => other,
    }
}

#[cfg(test)]
#[path = "seek_sequence_tests.rs"]
mod tests;
