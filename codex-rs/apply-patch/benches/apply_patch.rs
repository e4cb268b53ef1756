//! `cargo bench -p codex-apply-patch --bench apply_patch` (`just bench-apply-patch`)
//!
//! Measures, in one run, applying one large patch (2,000 hunks over 200 files of 5,000
//! lines; each hunk changes 1–3 lines, with 3 lines of context on each side) three ways,
//! each repetition on a fresh copy of the same tree (the copy is not timed):
//! 1. `git apply` of the equivalent unified diff: the baseline, a separate process timed
//!    from spawn to exit;
//! 2. [`apply_patch`] over the local filesystem ([`LocalFileSystem`]);
//! 3. [`apply_patch`] over a real `codex-exec-server` on loopback (a separate process,
//!    built with `cargo build --release` into the bench's own target directory).
//!
//! The three are interleaved (one repetition of each in turn), after one warm-up each,
//! and reported as median and min. For insight it also times the parts of the local run:
//! parsing alone, computing every new file in memory alone, and [`verify_patch`] (parse,
//! read, check, compute; no write) locally and remotely.
//!
//! Both patches are generated from one list of edits (fixed seed), and after every run
//! the tree is compared with the result computed in memory: a run that produced a wrong
//! tree panics. It prints figures and ratios; it asserts nothing about timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use codex_apply_patch::PatchTarget;
use codex_apply_patch::apply_patch;
use codex_apply_patch::parser::Hunk;
use codex_apply_patch::parser::parse_patch;
use codex_apply_patch::update::apply_chunks;
use codex_apply_patch::verify_patch;
use codex_exec_server::Environment;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::LocalFileSystem;
use codex_file_system::LocalFileSystemConfig;
use codex_utils_absolute_path::AbsolutePathBuf;
use tempfile::TempDir;

const FILES: usize = 200;
const LINES_PER_FILE: usize = 5_000;
const HUNKS_PER_FILE: usize = 10;
const CONTEXT: usize = 3;
const WARMUP: usize = 1;
const SAMPLES: usize = 5;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }
}

const WORDS: [&str; 40] = [
    "alpha", "buffer", "cursor", "delta", "entry", "frame", "guard", "handle", "index", "joint",
    "kernel", "layout", "module", "node", "offset", "parser", "query", "render", "socket", "token",
    "update", "value", "window", "xform", "yield", "zone", "apply", "batch", "chunk", "digest",
    "event", "filter", "graph", "hunk", "input", "json", "key", "list", "map", "name",
];

/// One line of code-like text (no line terminator).
fn random_line(rng: &mut Rng) -> String {
    let indent = "    ".repeat(rng.below(/*n*/ 4));
    match rng.below(/*n*/ 12) {
        0 => String::new(),
        1 => format!("{indent}}}"),
        2 => format!(
            "{indent}// {} the {} before {} {}",
            rng.word(),
            rng.word(),
            rng.word(),
            rng.below(1000)
        ),
        3 => format!(
            "{indent}fn {}_{}({}: &{}, {}: usize) -> Result<(), Error> {{",
            rng.word(),
            rng.word(),
            rng.word(),
            rng.word(),
            rng.word()
        ),
        4 => format!(
            "{indent}if {}.{}() > {} {{",
            rng.word(),
            rng.word(),
            rng.below(10_000)
        ),
        _ => format!(
            "{indent}let {}_{} = {}.{}({}, {});",
            rng.word(),
            rng.below(100),
            rng.word(),
            rng.word(),
            rng.word(),
            rng.below(100_000)
        ),
    }
}

/// Replace `old_len` lines starting at line `at` (0-based) with `new`.
struct Edit {
    at: usize,
    old_len: usize,
    new: Vec<String>,
}

struct FileCase {
    name: String,
    original: Vec<String>,
    edits: Vec<Edit>,
    expected: String,
}

fn text_of(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// 200 files, 10 edits each, one per tenth of the file; edits (with their context) never
/// overlap.
fn generate() -> Vec<FileCase> {
    let mut rng = Rng(SEED);
    let segment = LINES_PER_FILE / HUNKS_PER_FILE;
    (0..FILES)
        .map(|file| {
            let original: Vec<String> =
                (0..LINES_PER_FILE).map(|_| random_line(&mut rng)).collect();
            let edits: Vec<Edit> = (0..HUNKS_PER_FILE)
                .map(|hunk| {
                    let old_len = 1 + rng.below(/*n*/ 3);
                    let new_len = rng.below(/*n*/ 4);
                    // Context before and after stays inside the segment.
                    let room = segment - 2 * CONTEXT - 3;
                    let at = hunk * segment + CONTEXT + rng.below(room);
                    let new = (0..new_len)
                        .map(|_| format!("{} // edited", random_line(&mut rng)))
                        .collect();
                    Edit { at, old_len, new }
                })
                .collect();
            let mut result = Vec::with_capacity(original.len());
            let mut pos = 0;
            for edit in &edits {
                result.extend_from_slice(&original[pos..edit.at]);
                result.extend_from_slice(&edit.new);
                pos = edit.at + edit.old_len;
            }
            result.extend_from_slice(&original[pos..]);
            FileCase {
                name: format!("f{file:03}.txt"),
                expected: text_of(&result),
                original,
                edits,
            }
        })
        .collect()
}

/// The lines of one hunk body (context, removed, added, context), each with its prefix.
fn push_body(out: &mut String, case: &FileCase, edit: &Edit) {
    let lines = &case.original;
    let end = edit.at + edit.old_len;
    for line in &lines[edit.at - CONTEXT..edit.at] {
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
    for line in &lines[edit.at..end] {
        out.push('-');
        out.push_str(line);
        out.push('\n');
    }
    for line in &edit.new {
        out.push('+');
        out.push_str(line);
        out.push('\n');
    }
    for line in &lines[end..end + CONTEXT] {
        out.push(' ');
        out.push_str(line);
        out.push('\n');
    }
}

/// The apply-patch text: one `*** Update File:` per file, one bare `@@` chunk per edit.
fn apply_patch_text(cases: &[FileCase]) -> String {
    let mut out = String::from("*** Begin Patch\n");
    for case in cases {
        out.push_str(&format!("*** Update File: {}\n", case.name));
        for edit in &case.edits {
            out.push_str("@@\n");
            push_body(&mut out, case, edit);
        }
    }
    out.push_str("*** End Patch\n");
    out
}

/// The equivalent unified diff, with exact line numbers and counts.
fn unified_diff(cases: &[FileCase]) -> String {
    let mut out = String::new();
    for case in cases {
        out.push_str(&format!("--- a/{0}\n+++ b/{0}\n", case.name));
        let mut delta: isize = 0;
        for edit in &case.edits {
            let old_start = edit.at - CONTEXT;
            let old_count = 2 * CONTEXT + edit.old_len;
            let new_count = 2 * CONTEXT + edit.new.len();
            let new_start = old_start as isize + delta;
            out.push_str(&format!(
                "@@ -{},{old_count} +{},{new_count} @@\n",
                old_start + 1,
                new_start + 1
            ));
            push_body(&mut out, case, edit);
            delta += edit.new.len() as isize - edit.old_len as isize;
        }
    }
    out
}

/// A fresh copy of the original tree under `base`, flushed to disk so that writeback of
/// the copy does not land in the next measurement.
fn fresh_tree(base: &Path, cases: &[FileCase]) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tree-")
        .tempdir_in(base)
        .unwrap();
    for case in cases {
        std::fs::write(dir.path().join(&case.name), text_of(&case.original)).unwrap();
    }
    let status = Command::new("sync").status().unwrap();
    assert!(status.success());
    dir
}

fn check_tree(dir: &Path, cases: &[FileCase], what: &str) {
    for case in cases {
        let actual = std::fs::read_to_string(dir.join(&case.name)).unwrap();
        assert!(
            actual == case.expected,
            "{what}: {} differs from the expected result",
            case.name
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn min(samples: &[Duration]) -> Duration {
    samples.iter().copied().min().unwrap()
}

fn report(label: &str, samples: &[Duration]) {
    println!(
        "  {label:<34} median {:9.1} ms   min {:9.1} ms",
        ms(median(samples)),
        ms(min(samples))
    );
}

/// The target directory this bench was built into: `<target>/release/deps/apply_patch-*`.
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .expect("bench binary in <target>/<profile>/deps")
        .to_path_buf()
}

/// `codex-exec-server` built in release mode next to this bench (`cargo build` is a no-op
/// when it is up to date). If the build fails (say, its sources are being edited) and a
/// binary from an earlier build is there, that one is used, with a warning.
fn exec_server_binary() -> PathBuf {
    let profile_dir = target_profile_dir();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    // What `cargo bench` sets for this binary only. Passed on, build scripts that track
    // them (ring's tracks CARGO_MANIFEST_DIR) would rerun here and again in the next
    // `cargo bench`, rebuilding the TLS stack every time.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_ref())
        {
            build.env_remove(name.as_ref());
        }
    }
    let status = build
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "codex-exec-server",
            "--bin",
            "codex-exec-server",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    let bin = target_dir.join("release").join("codex-exec-server");
    if !status.success() {
        assert!(bin.exists(), "building codex-exec-server failed");
        eprintln!(
            "warning: building codex-exec-server failed; using the earlier build at {}",
            bin.display()
        );
    }
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(home: &Path) -> Self {
        let mut child = Command::new(exec_server_binary())
            .args(["--listen", "ws://127.0.0.1:0", "--no-auth"])
            .env("HOME", home)
            .env("RUST_LOG", "error")
            .env_remove("CODEX_EXEC_SERVER_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self {
            child,
            url: line.trim().to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn target<'a>(fs: &'a dyn ExecutorFileSystem, cwd: &'a AbsolutePathBuf) -> PatchTarget<'a> {
    PatchTarget {
        fs,
        cwd,
        sandbox_policy: None,
    }
}

fn git_apply(diff: &Path, tree: &Path) -> Duration {
    let started = Instant::now();
    let output = Command::new("git")
        .arg("apply")
        .arg(diff)
        .current_dir(tree)
        // Never let git find an enclosing repository (it would apply relative to its root).
        .env("GIT_CEILING_DIRECTORIES", tree.parent().unwrap())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "git apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

async fn apply_with(patch: &str, fs: &dyn ExecutorFileSystem, tree: &Path) -> Duration {
    let cwd = AbsolutePathBuf::try_from_absolute(tree).unwrap();
    let started = Instant::now();
    let applied = apply_patch(patch, target(fs, &cwd)).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(applied.changes.len(), FILES);
    elapsed
}

async fn verify_with(patch: &str, fs: &dyn ExecutorFileSystem, tree: &Path) -> Duration {
    let cwd = AbsolutePathBuf::try_from_absolute(tree).unwrap();
    let started = Instant::now();
    let verified = verify_patch(patch, target(fs, &cwd)).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(verified.changes().len(), FILES);
    elapsed
}

/// Computing every new file in memory from the parsed patch (no I/O).
fn compute_only(patch: &str, originals: &[String], cases: &[FileCase]) -> Duration {
    let parsed = parse_patch(patch).unwrap();
    let started = Instant::now();
    let results: Vec<String> = parsed
        .hunks
        .iter()
        .zip(originals)
        .map(|(hunk, original)| match hunk {
            Hunk::UpdateFile { path, chunks, .. } => apply_chunks(path, original, chunks).unwrap(),
            other => panic!("unexpected operation {other:?}"),
        })
        .collect();
    let elapsed = started.elapsed();
    for (result, case) in results.iter().zip(cases) {
        assert!(*result == case.expected, "{}: wrong result", case.name);
    }
    elapsed
}

#[tokio::main]
async fn main() {
    println!("codex-apply-patch benchmark (baseline measured in the same run)\n");
    let started = Instant::now();
    let cases = generate();
    let patch = apply_patch_text(&cases);
    let diff = unified_diff(&cases);
    let originals: Vec<String> = cases.iter().map(|case| text_of(&case.original)).collect();
    let tree_bytes: usize = originals.iter().map(String::len).sum();
    let hunks = FILES * HUNKS_PER_FILE;
    println!(
        "{FILES} files x {LINES_PER_FILE} lines ({:.1} MiB), {hunks} hunks; apply-patch text {:.2} MiB, unified diff {:.2} MiB (generated in {:.0} ms)",
        tree_bytes as f64 / (1024.0 * 1024.0),
        patch.len() as f64 / (1024.0 * 1024.0),
        diff.len() as f64 / (1024.0 * 1024.0),
        ms(started.elapsed())
    );

    let base = tempfile::Builder::new()
        .prefix("codex-apply-patch-bench-")
        .tempdir()
        .unwrap();
    let diff_path = base.path().join("patch.diff");
    std::fs::write(&diff_path, &diff).unwrap();

    let local = LocalFileSystem::new(LocalFileSystemConfig {
        max_fs_bytes: 64 << 20,
        ..Default::default()
    });
    let server = Server::start(base.path());
    let environment = Environment::from_env_value(Some(&server.url))
        .await
        .unwrap();
    let remote: Arc<dyn ExecutorFileSystem> = environment.file_system().unwrap();
    println!(
        "exec-server on {}; {WARMUP} warm-up + {SAMPLES} samples each, interleaved\n",
        server.url
    );

    let mut git = Vec::new();
    let mut local_apply = Vec::new();
    let mut remote_apply = Vec::new();
    for round in 0..WARMUP + SAMPLES {
        let keep = round >= WARMUP;

        let tree = fresh_tree(base.path(), &cases);
        let elapsed = git_apply(&diff_path, tree.path());
        check_tree(tree.path(), &cases, "git apply");
        drop(tree);
        if keep {
            git.push(elapsed);
        }

        let tree = fresh_tree(base.path(), &cases);
        let elapsed = apply_with(&patch, &local, tree.path()).await;
        check_tree(tree.path(), &cases, "local apply_patch");
        drop(tree);
        if keep {
            local_apply.push(elapsed);
        }

        let tree = fresh_tree(base.path(), &cases);
        let elapsed = apply_with(&patch, remote.as_ref(), tree.path()).await;
        check_tree(tree.path(), &cases, "remote apply_patch");
        drop(tree);
        if keep {
            remote_apply.push(elapsed);
        }
    }

    // The parts, on one unmodified tree (verify_patch writes nothing).
    let mut parse = Vec::new();
    let mut compute = Vec::new();
    let mut local_verify = Vec::new();
    let mut remote_verify = Vec::new();
    let tree = fresh_tree(base.path(), &cases);
    for round in 0..WARMUP + SAMPLES {
        let parse_started = Instant::now();
        let parsed = parse_patch(&patch).unwrap();
        let parse_elapsed = parse_started.elapsed();
        assert_eq!(parsed.hunks.len(), FILES);
        drop(parsed);
        let compute_elapsed = compute_only(&patch, &originals, &cases);
        let local_elapsed = verify_with(&patch, &local, tree.path()).await;
        let remote_elapsed = verify_with(&patch, remote.as_ref(), tree.path()).await;
        if round >= WARMUP {
            parse.push(parse_elapsed);
            compute.push(compute_elapsed);
            local_verify.push(local_elapsed);
            remote_verify.push(remote_elapsed);
        }
    }
    for (case, original) in cases.iter().zip(&originals) {
        let untouched = std::fs::read_to_string(tree.path().join(&case.name)).unwrap();
        assert!(untouched == *original, "verify_patch wrote {}", case.name);
    }
    drop(tree);

    let (g, l, r) = (median(&git), median(&local_apply), median(&remote_apply));
    println!("apply the whole patch (fresh tree each time; every result checked):");
    report("git apply (unified diff)", &git);
    report("apply_patch, local filesystem", &local_apply);
    report("apply_patch, exec-server loopback", &remote_apply);
    println!(
        "  local / git apply    {:6.2}x   (goal: <= 2.0)",
        l.as_secs_f64() / g.as_secs_f64()
    );
    println!(
        "  remote / local       {:6.2}x   (goal: <= 3.0)",
        r.as_secs_f64() / l.as_secs_f64()
    );
    println!(
        "  remote / git apply   {:6.2}x\n",
        r.as_secs_f64() / g.as_secs_f64()
    );

    println!("parts (medians; same patch, nothing written):");
    report("parse_patch", &parse);
    report("apply_chunks, all files in memory", &compute);
    report("verify_patch, local", &local_verify);
    report("verify_patch, exec-server loopback", &remote_verify);
    println!(
        "  write (apply - verify): local {:.1} ms, remote {:.1} ms",
        ms(l.saturating_sub(median(&local_verify))),
        ms(r.saturating_sub(median(&remote_verify)))
    );
}
