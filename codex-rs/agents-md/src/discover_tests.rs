use super::*;
use pretty_assertions::assert_eq;

fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).expect("absolute")
}

fn doc(path: &str, text: &str) -> Doc {
    Doc {
        path: abs(path),
        text: text.to_string(),
    }
}

#[test]
fn cut_never_splits_a_character() {
    // "é" is 2 bytes, "€" 3, "🦀" 4.
    let text = "aé€🦀";
    let cuts: Vec<&str> = (0..=text.len()).map(|max| cut(text, max)).collect();
    assert_eq!(
        cuts,
        vec![
            "",
            "a",
            "a",
            "aé",
            "aé",
            "aé",
            "aé€",
            "aé€",
            "aé€",
            "aé€",
            "aé€🦀"
        ]
    );
}

#[test]
fn assemble_puts_the_home_doc_first_with_the_separator() {
    let mut warnings = Vec::new();
    let assembled = assemble(
        Some(doc("/home/AGENTS.md", "home")),
        vec![doc("/p/AGENTS.md", "root"), doc("/p/a/AGENTS.md", "a")],
        /*max_bytes*/ 1000,
        &mut warnings,
    );
    assert_eq!(
        assembled,
        (
            format!("home{PROJECT_DOC_SEPARATOR}root{PROJECT_DOC_JOINER}a"),
            vec![
                abs("/home/AGENTS.md"),
                abs("/p/AGENTS.md"),
                abs("/p/a/AGENTS.md")
            ]
        )
    );
    assert_eq!(warnings, Vec::<String>::new());
}

#[test]
fn assemble_without_home_has_no_separator() {
    let mut warnings = Vec::new();
    let assembled = assemble(
        /*home*/ None,
        vec![doc("/p/AGENTS.md", "root")],
        /*max_bytes*/ 1000,
        &mut warnings,
    );
    assert_eq!(assembled, ("root".to_string(), vec![abs("/p/AGENTS.md")]));
    let assembled = assemble(
        Some(doc("/home/AGENTS.md", "home")),
        Vec::new(),
        /*max_bytes*/ 1000,
        &mut warnings,
    );
    assert_eq!(
        assembled,
        ("home".to_string(), vec![abs("/home/AGENTS.md")])
    );
}

#[test]
fn a_cut_inside_the_separator_keeps_only_the_home_doc() {
    let mut warnings = Vec::new();
    let assembled = assemble(
        Some(doc("/home/AGENTS.md", "home")),
        vec![doc("/p/AGENTS.md", "root")],
        /*max_bytes*/ 7,
        &mut warnings,
    );
    assert_eq!(
        assembled,
        ("home\n\n-".to_string(), vec![abs("/home/AGENTS.md")])
    );
    assert_eq!(
        warnings,
        vec!["instructions cut at 7 bytes; left out: `/p/AGENTS.md`".to_string()]
    );
}

#[test]
fn a_cut_at_the_end_of_a_doc_leaves_out_the_next() {
    let mut warnings = Vec::new();
    let assembled = assemble(
        /*home*/ None,
        vec![doc("/p/AGENTS.md", "root"), doc("/p/a/AGENTS.md", "a")],
        /*max_bytes*/ 4,
        &mut warnings,
    );
    assert_eq!(assembled, ("root".to_string(), vec![abs("/p/AGENTS.md")]));
    assert_eq!(
        warnings,
        vec!["instructions cut at 4 bytes; left out: `/p/a/AGENTS.md`".to_string()]
    );
}

#[test]
fn dirs_run_from_the_root_down_to_the_cwd() {
    assert_eq!(
        dirs_from_root(&abs("/p"), &abs("/p/a/b")),
        vec![abs("/p"), abs("/p/a"), abs("/p/a/b")]
    );
    assert_eq!(dirs_from_root(&abs("/p"), &abs("/p")), vec![abs("/p")]);
}

#[test]
fn json_has_sources_and_text() {
    let instructions = Instructions {
        sources: vec![abs("/p/AGENTS.md")],
        text: "root".to_string(),
        warnings: vec!["ignored".to_string()],
        project_root: abs("/p"),
    };
    assert_eq!(
        instructions.to_json(),
        serde_json::json!({"sources": ["/p/AGENTS.md"], "text": "root"})
    );
}
