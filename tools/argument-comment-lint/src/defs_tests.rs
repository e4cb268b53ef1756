use std::collections::BTreeSet;
use std::path::Path;
use std::path::PathBuf;

use pretty_assertions::assert_eq;

use super::CallShape;
use super::Definitions;
use super::Resolution;
use super::is_test_item;
use super::normalise;
use crate::source::SourceFile;

fn definitions(files: &[(&str, &str)]) -> Definitions {
    let mut definitions = Definitions::default();
    for (path, text) in files {
        let file = SourceFile::new(PathBuf::from(path), text.to_string());
        let ast = file.parse().unwrap();
        definitions.collect(&file, &ast);
    }
    definitions
}

fn named(name: &str) -> Resolution {
    Resolution::Named(name.to_string())
}

#[test]
fn resolution_by_call_shape() {
    let defs = definitions(&[(
        "a.rs",
        "fn free(x: u8, flag: bool) {}
         struct S;
         impl S {
             fn new(size: usize) -> Self { S }
             fn method(&self, flag: bool) {}
         }
         trait T { fn method(&self, enabled: bool); }",
    )]);
    let here = Path::new("a.rs");
    assert_eq!(
        [
            defs.resolve("free", CallShape::Unqualified, 2, 1, here),
            defs.resolve("free", CallShape::Free, 2, 0, here),
            // Wrong arity, or a method shape for a free function: no candidate.
            defs.resolve("free", CallShape::Unqualified, 1, 0, here),
            defs.resolve("free", CallShape::Method, 2, 0, here),
            defs.resolve("new", CallShape::Owned("S"), 1, 0, here),
            defs.resolve("new", CallShape::Owned("Vec"), 1, 0, here),
            defs.resolve("new", CallShape::AnyOwner, 1, 0, here),
            // `S::method(&s, true)`: the receiver first.
            defs.resolve("method", CallShape::Owned("S"), 2, 1, here),
            defs.resolve("method", CallShape::Owned("S"), 2, 0, here),
            defs.resolve("method", CallShape::Owned("T"), 2, 1, here),
            // `x.method(true)`: `S::method` and `T::method` disagree.
            defs.resolve("method", CallShape::Method, 1, 0, here),
            defs.resolve("unknown", CallShape::Unqualified, 1, 0, here),
        ],
        [
            named("flag"),
            named("x"),
            Resolution::Unknown,
            Resolution::Unknown,
            named("size"),
            Resolution::Unknown,
            named("size"),
            named("flag"),
            Resolution::Ambiguous,
            named("enabled"),
            Resolution::Ambiguous,
            Resolution::Unknown,
        ]
    );
}

#[test]
fn a_local_helper_shadows_others_of_the_same_name() {
    let defs = definitions(&[
        ("a.rs", "fn helper(verbose: bool) {}"),
        ("b.rs", "fn helper(quiet: bool) {}"),
        ("c.rs", "fn other() {}"),
    ]);
    assert_eq!(
        [
            defs.resolve("helper", CallShape::Unqualified, 1, 0, Path::new("a.rs")),
            defs.resolve("helper", CallShape::Unqualified, 1, 0, Path::new("b.rs")),
            defs.resolve("helper", CallShape::Unqualified, 1, 0, Path::new("c.rs")),
            defs.resolve("helper", CallShape::Free, 1, 0, Path::new("a.rs")),
        ],
        [
            named("verbose"),
            named("quiet"),
            Resolution::Ambiguous,
            Resolution::Ambiguous,
        ]
    );
}

#[test]
fn trait_implementations_take_the_declared_names() {
    let defs = definitions(&[
        ("t.rs", "trait Fs { fn read(&self, follow: bool); }"),
        (
            "i.rs",
            "struct L; impl Fs for L { fn read(&self, _f: bool) {} }",
        ),
        (
            "j.rs",
            "struct M; impl crate::Fs for M { fn read(&self, links: bool) {} }",
        ),
    ]);
    let here = Path::new("x.rs");
    assert_eq!(
        [
            defs.resolve("read", CallShape::Method, 1, 0, here),
            defs.resolve("read", CallShape::Owned("L"), 2, 1, here),
        ],
        [named("follow"), named("follow")]
    );
}

#[test]
fn parameter_names_are_normalised() {
    assert_eq!(
        [
            normalise("recursive"),
            normalise("_recursive"),
            normalise("r#type"),
            normalise("_"),
        ],
        [
            Some("recursive".to_string()),
            Some("recursive".to_string()),
            Some("type".to_string()),
            None,
        ]
    );
    let defs = definitions(&[("a.rs", "fn f(_: u8, (a, b): (u8, u8), mut n: u8) {}")]);
    let resolve = |index| {
        defs.resolve(
            "f",
            CallShape::Unqualified,
            /*arg_count*/ 3,
            index,
            Path::new("a.rs"),
        )
    };
    assert_eq!(
        [resolve(0), resolve(1), resolve(2)],
        [Resolution::Ambiguous, Resolution::Ambiguous, named("n")]
    );
}

#[test]
fn test_attributes() {
    let attrs = |source: &str| syn::parse_str::<syn::ItemFn>(source).unwrap().attrs;
    assert_eq!(
        [
            is_test_item(&attrs("#[test] fn f() {}")),
            is_test_item(&attrs("#[tokio::test] async fn f() {}")),
            is_test_item(&attrs("#[cfg(test)] fn f() {}")),
            is_test_item(&attrs("#[cfg(all(test, unix))] fn f() {}")),
            is_test_item(&attrs("#[cfg(not(test))] fn f() {}")),
            is_test_item(&attrs("#[cfg(unix)] fn f() {}")),
            is_test_item(&attrs("#[inline] fn f() {}")),
        ],
        [true, true, true, true, false, false, false]
    );
}

#[test]
fn test_module_files() {
    let defs = definitions(&[
        (
            "c/src/lib.rs",
            "mod a;
             #[cfg(test)] mod tests;
             #[cfg(test)] #[path = \"lib_tests.rs\"] mod more_tests;
             #[cfg(test)] mod inline { mod nested; }",
        ),
        (
            "c/src/a.rs",
            "#[cfg(test)] #[path = \"a_tests.rs\"] mod tests; mod b;",
        ),
        ("c/src/tests/mod.rs", "mod helpers;"),
        ("c/src/util.rs", "#![cfg(test)]"),
    ]);
    let expected: BTreeSet<PathBuf> = [
        "c/src/a_tests.rs",
        "c/src/inline/nested.rs",
        "c/src/inline/nested/mod.rs",
        "c/src/lib_tests.rs",
        "c/src/tests.rs",
        "c/src/tests/helpers.rs",
        "c/src/tests/helpers/mod.rs",
        "c/src/tests/mod.rs",
        "c/src/util.rs",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(defs.test_files(), expected);
}
