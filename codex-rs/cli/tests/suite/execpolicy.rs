//! `codex execpolicy check`, run as a user would: the exact JSON text it prints.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Output;

use pretty_assertions::assert_eq;

const RULES: &str = r#"
prefix_rule(pattern = ["git"], decision = "prompt", justification = "git can write")
prefix_rule(
    pattern = ["git", ["status", "log", "diff"]],
    match = ["git status", ["git", "log", "-p"]],
    not_match = ["git push"],
)
prefix_rule(pattern = [["rm", "shred"]], decision = "forbidden", justification = "Use `trash` instead.")
prefix_rule(pattern = ["ls"])
host_executable(name = "rm", paths = ["/bin/rm", "/usr/bin/rm"])
"#;

/// An empty `$CODEX_HOME` and working directory, with a rules file in the latter.
struct Setup {
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let setup = Self {
            home: tempfile::tempdir().unwrap(),
            dir: tempfile::tempdir().unwrap(),
        };
        setup.write("main.rules", RULES);
        setup
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `codex execpolicy check ARGS...` in the working directory.
    fn check(&self, args: &[&str]) -> Output {
        Command::new(codex_utils_cargo_bin::cargo_bin!("codex").expect("codex"))
            .args(["execpolicy", "check"])
            .args(args)
            .current_dir(self.dir.path())
            .env("CODEX_HOME", self.home.path())
            .output()
            .unwrap()
    }
}

/// (stdout, stderr, exit status).
fn outcome(output: &Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code(),
    )
}

fn printed(json: &str) -> (String, String, Option<i32>) {
    (format!("{json}\n"), String::new(), Some(0))
}

#[test]
fn prints_every_match_and_the_strictest_decision() {
    let setup = Setup::new();
    assert_eq!(
        outcome(&setup.check(&["--rules", "main.rules", "git", "status", "-s"])),
        printed(concat!(
            r#"{"matchedRules":["#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt","justification":"git can write"}},"#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git","status"],"decision":"allow"}}"#,
            r#"],"decision":"prompt"}"#
        ))
    );
    assert_eq!(
        outcome(&setup.check(&["-r", "main.rules", "shred", "-u", "key"])),
        printed(
            r#"{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["shred"],"decision":"forbidden","justification":"Use `trash` instead."}}],"decision":"forbidden"}"#
        )
    );
    // Words that look like options belong to the command.
    assert_eq!(
        outcome(&setup.check(&["--rules", "main.rules", "ls", "-la", "--pretty"])),
        printed(
            r#"{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["ls"],"decision":"allow"}}],"decision":"allow"}"#
        )
    );
}

#[test]
fn no_match_prints_an_empty_list_and_no_decision() {
    let setup = Setup::new();
    assert_eq!(
        outcome(&setup.check(&["--rules", "main.rules", "cargo", "build"])),
        printed(r#"{"matchedRules":[]}"#)
    );
    assert_eq!(
        outcome(&setup.check(&["--rules", "main.rules", "--pretty", "cargo"])),
        printed("{\n  \"matchedRules\": []\n}")
    );
}

#[test]
fn pretty_prints_with_two_space_indentation() {
    let setup = Setup::new();
    let expected = r#"{
  "matchedRules": [
    {
      "prefixRuleMatch": {
        "matchedPrefix": [
          "rm"
        ],
        "decision": "forbidden",
        "resolvedProgram": "/bin/rm",
        "justification": "Use `trash` instead."
      }
    }
  ],
  "decision": "forbidden"
}"#;
    assert_eq!(
        outcome(&setup.check(&[
            "--rules",
            "main.rules",
            "--pretty",
            "--resolve-host-executables",
            "/bin/rm",
            "-rf",
            "/"
        ])),
        printed(expected)
    );
}

#[test]
fn absolute_programs_resolve_by_basename_only_with_the_flag() {
    let setup = Setup::new();
    // Without the flag: only a literal match.
    assert_eq!(
        outcome(&setup.check(&["--rules", "main.rules", "/usr/bin/git", "log"])),
        printed(r#"{"matchedRules":[]}"#)
    );
    // With it, and no host_executable for git: any absolute path.
    assert_eq!(
        outcome(&setup.check(&[
            "--rules",
            "main.rules",
            "--resolve-host-executables",
            "/opt/tools/git",
            "log"
        ])),
        printed(concat!(
            r#"{"matchedRules":["#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt","resolvedProgram":"/opt/tools/git","justification":"git can write"}},"#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git","log"],"decision":"allow","resolvedProgram":"/opt/tools/git"}}"#,
            r#"],"decision":"prompt"}"#
        ))
    );
    // host_executable(name = "rm", ...) lists the paths that may resolve to `rm`.
    assert_eq!(
        outcome(&setup.check(&[
            "--rules",
            "main.rules",
            "--resolve-host-executables",
            "/tmp/rm",
            "x"
        ])),
        printed(r#"{"matchedRules":[]}"#)
    );
}

#[test]
fn several_rules_files_are_evaluated_in_order() {
    let setup = Setup::new();
    setup.write(
        "extra.rules",
        "prefix_rule(pattern = [\"git\", \"status\"], decision = \"forbidden\")\n",
    );
    assert_eq!(
        outcome(&setup.check(&[
            "--rules",
            "extra.rules",
            "--rules",
            "main.rules",
            "git",
            "status"
        ])),
        printed(concat!(
            r#"{"matchedRules":["#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git","status"],"decision":"forbidden"}},"#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt","justification":"git can write"}},"#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git","status"],"decision":"allow"}}"#,
            r#"],"decision":"forbidden"}"#
        ))
    );
}

#[test]
fn a_rules_error_exits_1_naming_the_file_and_line() {
    let setup = Setup::new();
    setup.write(
        "bad.rules",
        "prefix_rule(pattern = [\"ls\"])\nprefix_rule(pattern = [\"git\"], decision = \"deny\")\n",
    );
    assert_eq!(
        outcome(&setup.check(&["--rules", "bad.rules", "ls"])),
        (
            String::new(),
            "codex execpolicy: bad.rules:2:1: invalid decision \"deny\": expected \"allow\", \
             \"prompt\" or \"forbidden\"\n"
                .to_string(),
            Some(1)
        )
    );
    setup.write(
        "examples.rules",
        "\nprefix_rule(pattern = [\"git\", \"status\"], match = [\"git stash\"])\n",
    );
    assert_eq!(
        outcome(&setup.check(&["--rules", "examples.rules", "ls"])),
        (
            String::new(),
            "codex execpolicy: examples.rules:2:1: `match` example `git stash` does not match \
             the rule's pattern [\"git\", \"status\"]\n"
                .to_string(),
            Some(1)
        )
    );
    assert_eq!(
        outcome(&setup.check(&["--rules", "missing.rules", "ls"])),
        (
            String::new(),
            "codex execpolicy: cannot read missing.rules: No such file or directory (os error \
             2)\n"
                .to_string(),
            Some(1)
        )
    );
}

#[test]
fn a_command_is_required() {
    let setup = Setup::new();
    let output = setup.check(&["--rules", "main.rules"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn without_rules_files_the_config_layers_rules_are_used() {
    let setup = Setup::new();
    let home = setup.home.path();
    let project = setup.dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(project.join(".git")).unwrap();
    write(
        &home.join("rules/user.rules"),
        "prefix_rule(pattern = [\"git\"], decision = \"prompt\")\n",
    );
    write(
        &project.join(".codex/rules/project.rules"),
        "prefix_rule(pattern = [\"git\", \"push\"], decision = \"forbidden\")\n",
    );
    // Untrusted: the project's rules are not read.
    assert_eq!(
        outcome(&setup.check(&["git", "push"])),
        printed(
            r#"{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt"}}],"decision":"prompt"}"#
        )
    );
    write(
        &home.join("config.toml"),
        &format!(
            "[projects.{:?}]\ntrust_level = \"trusted\"\n",
            project.display().to_string()
        ),
    );
    assert_eq!(
        outcome(&setup.check(&["git", "push"])),
        printed(concat!(
            r#"{"matchedRules":["#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt"}},"#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git","push"],"decision":"forbidden"}}"#,
            r#"],"decision":"forbidden"}"#
        ))
    );
    // `--rules` replaces the layers.
    assert_eq!(
        outcome(&setup.check(&["--rules", "main.rules", "git", "push"])),
        printed(
            r#"{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt","justification":"git can write"}}],"decision":"prompt"}"#
        )
    );
}
