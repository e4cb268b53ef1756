use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::DotslashError;
use super::fetch_with;

const PLATFORM: &str = "linux-x86_64";
/// sha256 of the 11 bytes `hello world`.
const HELLO_DIGEST: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

/// A DotSlash file with one plain-file entry for `platform`.
fn dotslash_text(platform: &str, size: u64, digest: &str) -> String {
    format!(
        r#"#!/usr/bin/env dotslash

{{
  "name": "hello",
  "platforms": {{
    "{platform}": {{
      "size": {size},
      "hash": "sha256",
      "digest": "{digest}",
      "path": "hello",
      "providers": [{{"url": "https://invalid.invalid/hello"}}]
    }}
  }}
}}
"#
    )
}

/// A stand-in for `dotslash` that runs `script` with `sh`; `$1 $2 $3` are
/// `-- fetch <file>` (or `$1 $2` are `-- cache-dir`).
fn fake_dotslash(script: &str) -> impl Fn() -> Command + use<> {
    let script = script.to_owned();
    move || {
        let mut command = Command::new("/bin/sh");
        command.arg("-c").arg(&script).arg("dotslash");
        command
    }
}

/// A fake `dotslash` that prints `artifact`, as a successful fetch does.
fn printing(artifact: &Path) -> impl Fn() -> Command + use<> {
    fake_dotslash(&format!("printf '%s\\n' '{}'", artifact.display()))
}

struct Fixture {
    dir: TempDir,
    file: PathBuf,
    artifact: PathBuf,
}

/// A DotSlash file pinning `hello world` and an artifact file holding `contents`.
fn fixture(contents: &[u8]) -> Fixture {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("hello");
    fs::write(&file, dotslash_text(PLATFORM, /*size*/ 11, HELLO_DIGEST)).unwrap();
    let artifact = dir.path().join("cache/ab/cdef/hello");
    fs::create_dir_all(artifact.parent().unwrap()).unwrap();
    fs::write(&artifact, contents).unwrap();
    Fixture {
        dir,
        file,
        artifact,
    }
}

#[test]
fn verified_artifact_path_is_returned() {
    let fx = fixture(b"hello world");
    let got = fetch_with(&fx.file, PLATFORM, &printing(&fx.artifact)).unwrap();
    assert_eq!(fx.artifact, got);
}

#[test]
fn fake_dotslash_receives_fetch_and_the_file() {
    let fx = fixture(b"hello world");
    // The stand-in prints the artifact only if called as `dotslash -- fetch <file>`.
    let script = format!(
        "[ \"$1 $2 $3\" = '-- fetch {}' ] && printf '%s\\n' '{}'",
        fx.file.display(),
        fx.artifact.display()
    );
    let got = fetch_with(&fx.file, PLATFORM, &fake_dotslash(&script)).unwrap();
    assert_eq!(fx.artifact, got);
}

#[test]
fn missing_file_is_reported() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("no-such-shell");
    let err = fetch_with(&file, PLATFORM, &fake_dotslash("exit 99")).unwrap_err();
    assert_eq!(
        format!(
            "cannot read DotSlash file {}: No such file or directory (os error 2)",
            file.display()
        ),
        err.to_string()
    );
}

#[test]
fn file_without_header_is_not_dotslash() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bash");
    fs::write(&file, "#!/bin/sh\necho hi\n").unwrap();
    let err = fetch_with(&file, PLATFORM, &fake_dotslash("exit 99")).unwrap_err();
    assert_eq!(
        format!(
            "{} is not a DotSlash file: the first line is `#!/bin/sh`, not \
             `#!/usr/bin/env dotslash`",
            file.display()
        ),
        err.to_string()
    );
}

#[test]
fn file_with_bad_json_is_not_dotslash() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bash");
    fs::write(&file, "#!/usr/bin/env dotslash\n{\"platforms\": 3}\n").unwrap();
    let err = fetch_with(&file, PLATFORM, &fake_dotslash("exit 99")).unwrap_err();
    assert_eq!(
        format!(
            "{} is not a DotSlash file: the JSON body is invalid: invalid type: integer `3`, \
             expected a map at line 1 column 15",
            file.display()
        ),
        err.to_string()
    );
}

#[test]
fn entry_for_another_platform_only_names_platforms_present() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bash");
    fs::write(
        &file,
        dotslash_text("macos-aarch64", /*size*/ 11, HELLO_DIGEST),
    )
    .unwrap();
    let err = fetch_with(&file, PLATFORM, &fake_dotslash("exit 99")).unwrap_err();
    assert_eq!(
        format!(
            "DotSlash file {} has no artifact for this platform (linux-x86_64); it has \
             entries for: macos-aarch64",
            file.display()
        ),
        err.to_string()
    );
}

#[test]
fn archive_entry_is_unverifiable() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("bash");
    let text = dotslash_text(PLATFORM, /*size*/ 11, HELLO_DIGEST).replace(
        "\"path\": \"hello\"",
        "\"format\": \"tar.gz\", \"path\": \"bin/hello\"",
    );
    fs::write(&file, text).unwrap();
    let err = fetch_with(&file, PLATFORM, &fake_dotslash("exit 99")).unwrap_err();
    assert_eq!(
        format!(
            "DotSlash file {} entry linux-x86_64 cannot be verified after fetching: format \
             is `tar.gz`; pin a plain file (no `format`) with `\"hash\": \"sha256\"`",
            file.display()
        ),
        err.to_string()
    );
}

#[test]
fn dotslash_not_installed_points_at_the_seed_script() {
    let fx = fixture(b"hello world");
    let missing = fx.dir.path().join("no-such-dotslash");
    let err = fetch_with(&fx.file, PLATFORM, &|| Command::new(&missing)).unwrap_err();
    assert_eq!(
        format!(
            "cannot run `{}` (No such file or directory (os error 2)); install DotSlash and \
             seed its cache with tools/dotslash/seed-test-shells.sh",
            fx.dir.path().join("no-such-dotslash").display()
        ),
        err.to_string()
    );
}

#[test]
fn failed_fetch_includes_stderr_cache_dir_and_the_seed_script() {
    let fx = fixture(b"hello world");
    let dotslash = fake_dotslash(
        "if [ \"$2\" = cache-dir ]; then echo /home/me/.cache/dotslash; exit 0; fi; \
         echo 'curl: (6) Could not resolve host' >&2; exit 1",
    );
    let err = fetch_with(&fx.file, PLATFORM, &dotslash).unwrap_err();
    assert_eq!(
        format!(
            "`dotslash -- fetch {}` failed (exit status: 1):\ncurl: (6) Could not resolve \
             host\nDotSlash's cache here is /home/me/.cache/dotslash. Run \
             tools/dotslash/seed-test-shells.sh with the same DOTSLASH_CACHE to place the \
             pinned artifacts there; under Bazel, which gives tests a private HOME, pass the \
             seeded cache with --test_env=DOTSLASH_CACHE=<dir>",
            fx.file.display()
        ),
        err.to_string()
    );
}

#[test]
fn truncated_artifact_is_rejected() {
    let fx = fixture(b"hello");
    let err = fetch_with(&fx.file, PLATFORM, &printing(&fx.artifact)).unwrap_err();
    assert_eq!(
        format!(
            "artifact {} for DotSlash file {} does not match its pin: expected size 11 sha256 \
             {HELLO_DIGEST}, got size 5 sha256 \
             2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824; run \
             tools/dotslash/seed-test-shells.sh, which replaces corrupt cache entries",
            fx.artifact.display(),
            fx.file.display()
        ),
        err.to_string()
    );
}

#[test]
fn corrupt_artifact_of_the_right_size_is_rejected() {
    let fx = fixture(b"hello WORLD");
    let err = fetch_with(&fx.file, PLATFORM, &printing(&fx.artifact)).unwrap_err();
    let DotslashError::ArtifactMismatch {
        expected_size,
        actual_size,
        actual_digest,
        ..
    } = err
    else {
        panic!("expected ArtifactMismatch, got {err}");
    };
    assert_eq!(
        (11, 11, false),
        (expected_size, actual_size, actual_digest == HELLO_DIGEST)
    );
}

#[test]
fn artifact_that_vanished_is_unreadable() {
    let fx = fixture(b"hello world");
    let gone = fx.dir.path().join("gone");
    let err = fetch_with(&fx.file, PLATFORM, &printing(&gone)).unwrap_err();
    assert_eq!(
        format!(
            "DotSlash fetched {} for {}, but it cannot be read: No such file or directory (os \
             error 2)",
            gone.display(),
            fx.file.display()
        ),
        err.to_string()
    );
}
