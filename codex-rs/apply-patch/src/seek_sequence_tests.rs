use super::*;
use pretty_assertions::assert_eq;

fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[test]
fn exact_match() {
    let file = lines(&["a", "b", "c", "b", "c"]);
    assert_eq!(seek_sequence(&file, &lines(&["b", "c"]), 0, false), Some(1));
    assert_eq!(seek_sequence(&file, &lines(&["b", "c"]), 2, false), Some(3));
    assert_eq!(seek_sequence(&file, &lines(&["c", "a"]), 0, false), None);
}

#[test]
fn exact_match_anywhere_beats_a_looser_match_earlier() {
    let file = lines(&["foo  ", "x", "foo"]);
    assert_eq!(seek_sequence(&file, &lines(&["foo"]), 0, false), Some(2));
    let file = lines(&["  foo", "foo  "]);
    assert_eq!(seek_sequence(&file, &lines(&["foo"]), 0, false), Some(1));
}

#[test]
fn ignores_trailing_whitespace() {
    let file = lines(&["x", "a  ", "b\t"]);
    assert_eq!(
        seek_sequence(&file, &lines(&["a", "b "]), 0, false),
        Some(1)
    );
}

#[test]
fn ignores_leading_and_trailing_whitespace() {
    let file = lines(&["x", "    a", "\tb  "]);
    assert_eq!(
        seek_sequence(&file, &lines(&["a", "  b"]), 0, false),
        Some(1)
    );
    // Inner whitespace still counts.
    assert_eq!(
        seek_sequence(&file, &lines(&["a", "b", "c"]), 0, false),
        None
    );
    let file = lines(&["a  b"]);
    assert_eq!(seek_sequence(&file, &lines(&["a b"]), 0, false), None);
}

#[test]
fn normalises_unicode_punctuation() {
    let file = lines(&[
        "x",
        "  pi \u{2248} 3\u{2013}4 \u{201C}quoted\u{201D} \u{2018}it\u{2019}s\u{2019}",
        "a\u{00A0}b\u{2003}c\u{202F}d\u{3000}e \u{00AB}g\u{00BB} \u{2039}h\u{203A}",
        "minus \u{2212}1 em\u{2014}dash \u{2011}nb",
    ]);
    let pattern = lines(&[
        "pi \u{2248} 3-4 \"quoted\" 'it's'",
        "a b c d e \"g\" 'h'",
        "minus -1 em-dash -nb",
    ]);
    assert_eq!(seek_sequence(&file, &pattern, 0, false), Some(1));
    // Works in the other direction too: typographic pattern, ASCII file.
    let file = lines(&["say \"hi\" - ok"]);
    let pattern = lines(&["say \u{201C}hi\u{201D} \u{2014} ok"]);
    assert_eq!(seek_sequence(&file, &pattern, 0, false), Some(0));
    // Leading non-breaking spaces are trimmed away.
    let file = lines(&["\u{00A0}\u{2007}value"]);
    assert_eq!(seek_sequence(&file, &lines(&["value"]), 0, false), Some(0));
}

#[test]
fn normalisation_does_not_equate_other_characters() {
    let file = lines(&["a_b", "x'y"]);
    assert_eq!(seek_sequence(&file, &lines(&["a-b"]), 0, false), None);
    assert_eq!(seek_sequence(&file, &lines(&["x\"y"]), 0, false), None);
}

#[test]
fn eof_prefers_a_match_at_the_end() {
    let file = lines(&["a", "b", "a", "b"]);
    let pattern = lines(&["a", "b"]);
    assert_eq!(seek_sequence(&file, &pattern, 0, false), Some(0));
    assert_eq!(seek_sequence(&file, &pattern, 0, true), Some(2));
}

#[test]
fn eof_prefers_a_loose_match_at_the_end_over_an_exact_one_earlier() {
    let file = lines(&["end", "x", "end  "]);
    assert_eq!(seek_sequence(&file, &lines(&["end"]), 0, true), Some(2));
}

#[test]
fn eof_falls_back_to_a_match_elsewhere() {
    let file = lines(&["a", "b", "c"]);
    assert_eq!(seek_sequence(&file, &lines(&["a", "b"]), 0, true), Some(0));
    // The end position is not used when it lies before `start`.
    let file = lines(&["a"]);
    assert_eq!(seek_sequence(&file, &lines(&["a"]), 1, true), None);
}

#[test]
fn empty_pattern_matches_at_start() {
    let file = lines(&["a"]);
    assert_eq!(seek_sequence(&file, &[], 0, false), Some(0));
    assert_eq!(seek_sequence(&file, &[], 1, true), Some(1));
    assert_eq!(seek_sequence(&[], &[], 7, false), Some(7));
}

#[test]
fn pattern_longer_than_lines_is_not_found() {
    let file = lines(&["a"]);
    assert_eq!(seek_sequence(&file, &lines(&["a", "a"]), 0, false), None);
    assert_eq!(seek_sequence(&file, &lines(&["a", "a"]), 0, true), None);
    assert_eq!(seek_sequence(&[], &lines(&["a"]), 0, false), None);
}

#[test]
fn out_of_range_start_is_not_found() {
    let file = lines(&["a", "b"]);
    assert_eq!(seek_sequence(&file, &lines(&["b"]), 1, false), Some(1));
    assert_eq!(seek_sequence(&file, &lines(&["b"]), 2, false), None);
    assert_eq!(seek_sequence(&file, &lines(&["b"]), usize::MAX, true), None);
    assert_eq!(seek_sequence(&file, &lines(&["a", "b"]), 1, false), None);
}
