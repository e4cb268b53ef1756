//! Evaluating `.rules` files with Starlark into a [`Policy`].
//!
//! A rules file is Starlark with two builtins, `prefix_rule` and `host_executable`, on
//! top of Starlark's standard functions. It is sandboxed: `load` is a syntax error, and
//! Starlark itself has no file, network, clock or environment access. Evaluation is
//! bounded (see the `MAX_*` constants) so that a huge file or a runaway loop is a clear
//! error rather than a hang. The bounds are a guard against accidents, not a security
//! boundary: rules files come from the system, the user and trusted projects.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::path::PathBuf;

use codex_utils_absolute_path::AbsolutePathBuf;
use starlark::any::ProvidesStaticType;
use starlark::codemap::FileSpan;
use starlark::environment::GlobalsBuilder;
use starlark::environment::Module;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::syntax::AstModule;
use starlark::syntax::Dialect;
use starlark::values::Value;
use starlark::values::list::ListRef;
use starlark::values::none::NoneType;

use crate::decision::Decision;
use crate::error::Location;
use crate::error::PolicyError;
use crate::policy::MatchOptions;
use crate::policy::Policy;
use crate::rule::PatternToken;
use crate::rule::PrefixRule;

/// The largest rules file that is evaluated (1 MiB); a bigger one is
/// [`PolicyError::FileTooLarge`] before anything is parsed.
pub const MAX_RULES_FILE_BYTES: u64 = 1 << 20;
/// The most rules a policy may hold, over all its files (a first pattern element with
/// alternatives counts one rule per alternative); more is [`PolicyError::TooManyRules`].
pub const MAX_RULES: usize = 20_000;
/// The most Starlark steps (loop iterations and function calls) one file may take; more
/// is [`PolicyError::TooLong`]. Each `prefix_rule` call is a step, so this is ten times
/// [`MAX_RULES`]: room for the loops that build rules, none for a runaway one.
pub const MAX_EVAL_STEPS: u64 = 200_000;
/// The most memory one file's evaluation may allocate on the Starlark heap (64 MiB;
/// checked every thousand steps, so one huge allocation can still go past it).
pub const MAX_HEAP_BYTES: usize = 64 << 20;
/// The deepest Starlark call stack one file may build.
const MAX_CALL_DEPTH: usize = 64;

/// Reads and evaluates rules files, one after another, into one [`Policy`].
///
/// ```ignore
/// let mut parser = PolicyParser::new();
/// parser.parse_file(Path::new("/etc/codex/rules/default.rules"))?;
/// let policy = parser.build();
/// ```
#[derive(Debug, Default)]
pub struct PolicyParser {
    builder: RefCell<Builder>,
}

impl PolicyParser {
    /// A parser with no rules yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `path` (at most [`MAX_RULES_FILE_BYTES`]) and evaluates it. Errors name
    /// `path` as given.
    pub fn parse_file(&mut self, path: &Path) -> Result<(), PolicyError> {
        let text = read_rules_file(path)?;
        self.parse_str(path, &text)
    }

    /// Evaluates `text` as the rules file `path` (used in error locations only). On
    /// error, nothing of this file is added to the policy.
    pub fn parse_str(&mut self, path: &Path, text: &str) -> Result<(), PolicyError> {
        if text.len() as u64 > MAX_RULES_FILE_BYTES {
            return Err(PolicyError::FileTooLarge {
                path: path.to_path_buf(),
                size: text.len() as u64,
                limit: MAX_RULES_FILE_BYTES,
            });
        }
        let before = self.builder.borrow().snapshot();
        self.builder.borrow_mut().start_file(path);
        let result = self
            .evaluate(path, text)
            .and_then(|()| self.builder.borrow().check_examples());
        let mut builder = self.builder.borrow_mut();
        builder.pending.clear();
        if result.is_err() {
            builder.restore(before);
        }
        result
    }

    /// The policy of every file parsed so far.
    pub fn build(self) -> Policy {
        let builder = self.builder.into_inner();
        Policy {
            rules: builder.rules,
            host_executables: builder.host_executables,
        }
    }

    fn evaluate(&self, path: &Path, text: &str) -> Result<(), PolicyError> {
        let name = path.to_string_lossy();
        let ast = AstModule::parse(&name, text.to_string(), &dialect()).map_err(|err| {
            PolicyError::Syntax {
                location: starlark_location(path, &err),
                message: starlark_message(&err),
            }
        })?;
        let globals = GlobalsBuilder::standard().with(rules_builtins).build();
        Module::with_temp_heap(|module| {
            let mut eval = Evaluator::new(&module);
            // Fresh evaluator, non-zero values: setting the limits cannot fail.
            let _ = eval.set_max_tick_count(MAX_EVAL_STEPS);
            let _ = eval.set_max_heap_size(MAX_HEAP_BYTES);
            let _ = eval.set_max_callstack_size(MAX_CALL_DEPTH);
            eval.extra = Some(&self.builder);
            let result = eval.eval_module(ast, &globals);
            let steps = eval.get_total_tick_count();
            drop(eval);
            match result {
                Ok(_) => Ok(()),
                Err(err) => {
                    // A builtin that refused its arguments left the typed error behind.
                    if let Some(error) = self.builder.borrow_mut().error.take() {
                        return Err(error);
                    }
                    let location = starlark_location(path, &err);
                    if steps >= MAX_EVAL_STEPS {
                        return Err(PolicyError::TooLong {
                            location,
                            limit: MAX_EVAL_STEPS,
                        });
                    }
                    Err(PolicyError::Evaluation {
                        location,
                        message: starlark_message(&err),
                    })
                }
            }
        })
    }
}

/// Reads a rules file, refusing one bigger than [`MAX_RULES_FILE_BYTES`] before reading
/// it (and one that grows past it while being read).
pub(crate) fn read_rules_file(path: &Path) -> Result<String, PolicyError> {
    let read_error = |source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    let too_large = |size| PolicyError::FileTooLarge {
        path: path.to_path_buf(),
        size,
        limit: MAX_RULES_FILE_BYTES,
    };
    if size > MAX_RULES_FILE_BYTES {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    file.take(MAX_RULES_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_RULES_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| PolicyError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

/// Upstream Codex's dialect (extended Starlark with f-strings: top-level `for`/`if`,
/// keyword-only arguments, type annotations), without `load`.
fn dialect() -> Dialect {
    let mut dialect = Dialect::Extended.clone();
    dialect.enable_f_strings = true;
    dialect.enable_load = false;
    dialect
}

fn starlark_location(path: &Path, err: &starlark::Error) -> Location {
    err.span()
        .map_or_else(|| Location::file(path), |span| span_location(path, span))
}

fn span_location(path: &Path, span: &FileSpan) -> Location {
    let begin = span.resolve_span().begin;
    Location::new(path, begin.line + 1, begin.column + 1)
}

/// Starlark's message without its source excerpt, on one line.
fn starlark_message(err: &starlark::Error) -> String {
    let message = err.without_diagnostic().to_string();
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How far the builder was before a file, to undo a file that failed.
#[derive(Debug, Clone)]
struct Snapshot {
    rules: usize,
    host_executables: BTreeMap<String, Vec<AbsolutePathBuf>>,
}

/// A `prefix_rule` call's examples, checked once its file has been evaluated (so a
/// `host_executable` later in the file counts).
#[derive(Debug)]
struct PendingExamples {
    /// The rules the call added: `rules[first..first + count]`.
    first: usize,
    count: usize,
    location: Location,
    matches: Vec<Vec<String>>,
    not_matches: Vec<Vec<String>>,
}

/// What the builtins write to while a file is evaluated.
#[derive(Debug, Default, ProvidesStaticType)]
struct Builder {
    path: PathBuf,
    rules: Vec<PrefixRule>,
    host_executables: BTreeMap<String, Vec<AbsolutePathBuf>>,
    pending: Vec<PendingExamples>,
    /// The typed error of a builtin that refused its arguments; the builtin also returns
    /// an error, which stops evaluation.
    error: Option<PolicyError>,
}

impl Builder {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            rules: self.rules.len(),
            host_executables: self.host_executables.clone(),
        }
    }

    fn restore(&mut self, snapshot: Snapshot) {
        self.rules.truncate(snapshot.rules);
        self.pending.clear();
        self.host_executables = snapshot.host_executables;
        self.error = None;
    }

    fn start_file(&mut self, path: &Path) {
        self.path = path.to_path_buf();
        self.error = None;
    }

    /// Checks the examples of this file's calls against their own rules, with basename
    /// resolution on and this policy's `host_executable`s.
    fn check_examples(&self) -> Result<(), PolicyError> {
        let options = MatchOptions {
            resolve_host_executables: true,
        };
        for pending in &self.pending {
            let rules = &self.rules[pending.first..pending.first + pending.count];
            let own = Policy {
                rules: rules.to_vec(),
                host_executables: self.host_executables.clone(),
            };
            let pattern = rules
                .first()
                .map(|rule| pattern_text_all(rules, rule))
                .unwrap_or_default();
            for example in &pending.matches {
                if own.matches(example, &options).is_empty() {
                    return Err(PolicyError::ExampleDidNotMatch {
                        location: pending.location.clone(),
                        example: shell_join(example),
                        pattern,
                    });
                }
            }
            for example in &pending.not_matches {
                if !own.matches(example, &options).is_empty() {
                    return Err(PolicyError::ExampleDidMatch {
                        location: pending.location.clone(),
                        example: shell_join(example),
                        pattern,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The pattern of a call as written: its rules differ only in their first word.
fn pattern_text_all(rules: &[PrefixRule], first_rule: &PrefixRule) -> String {
    if rules.len() < 2 {
        return first_rule.pattern_text();
    }
    let mut pattern = first_rule.pattern.clone();
    pattern[0] = PatternToken::Alts(rules.iter().map(|r| r.program().to_string()).collect());
    let tokens: Vec<String> = pattern.iter().map(ToString::to_string).collect();
    format!("[{}]", tokens.join(", "))
}

fn shell_join(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| format!("{words:?}"))
}

/// The builder of the file being evaluated, and where in it the current builtin call is.
fn builder_and_location<'v, 'a>(
    eval: &Evaluator<'v, 'a, '_>,
) -> anyhow::Result<(&'a RefCell<Builder>, Location)> {
    let builder = eval
        .extra
        .and_then(|extra| extra.downcast_ref::<RefCell<Builder>>())
        .ok_or_else(|| anyhow::anyhow!("rules builtins called outside a rules file"))?;
    let path = builder.borrow().path.clone();
    let location = eval
        .call_stack_top_location()
        .map_or_else(|| Location::file(&path), |span| span_location(&path, &span));
    Ok((builder, location))
}

/// Records `error` for [`PolicyParser`] and returns the error that stops evaluation.
fn refuse(builder: &RefCell<Builder>, error: PolicyError) -> anyhow::Error {
    let message = error.to_string();
    builder.borrow_mut().error = Some(error);
    anyhow::anyhow!(message)
}

/// `None` for a missing argument or an explicit `None`.
fn given(value: Option<Value<'_>>) -> Option<Value<'_>> {
    value.filter(|value| !value.is_none())
}

fn describe(value: Value<'_>) -> String {
    format!("{} of type {}", value.to_repr(), value.get_type())
}

/// The words of a list of strings; `Err` names the first element that is not a string.
fn string_list(list: &ListRef<'_>) -> Result<Vec<String>, String> {
    list.content()
        .iter()
        .map(|item| {
            item.unpack_str()
                .map(str::to_string)
                .ok_or_else(|| describe(*item))
        })
        .collect()
}

fn parse_pattern(value: Value<'_>) -> Result<Vec<PatternToken>, String> {
    let Some(list) = ListRef::from_value(value) else {
        return Err(format!(
            "expected a list of words (strings, or lists of alternative strings), got {}",
            describe(value)
        ));
    };
    if list.content().is_empty() {
        return Err("expected at least one word, got an empty list".to_string());
    }
    list.content()
        .iter()
        .enumerate()
        .map(|(index, item)| {
            if let Some(word) = item.unpack_str() {
                return Ok(PatternToken::Single(word.to_string()));
            }
            let Some(alternatives) = ListRef::from_value(*item) else {
                return Err(format!(
                    "element {index}: expected a string or a list of alternative strings, \
                     got {}",
                    describe(*item)
                ));
            };
            let words = string_list(alternatives).map_err(|bad| {
                format!("element {index}: alternatives must be strings, got {bad}")
            })?;
            match words.len() {
                0 => Err(format!(
                    "element {index}: expected at least one alternative, got an empty list"
                )),
                1 => Ok(PatternToken::Single(
                    words.into_iter().next().unwrap_or_default(),
                )),
                _ => Ok(PatternToken::Alts(words)),
            }
        })
        .collect()
}

fn parse_examples(value: Option<Value<'_>>, what: &str) -> Result<Vec<Vec<String>>, String> {
    let Some(value) = given(value) else {
        return Ok(Vec::new());
    };
    let Some(list) = ListRef::from_value(value) else {
        return Err(format!(
            "`{what}` expects a list of example commands, got {}",
            describe(value)
        ));
    };
    list.content()
        .iter()
        .map(|example| {
            let words = if let Some(text) = example.unpack_str() {
                shlex::split(text)
                    .ok_or_else(|| format!("`{what}` example {text:?} is not valid shell syntax"))?
            } else if let Some(words) = ListRef::from_value(*example) {
                string_list(words)
                    .map_err(|bad| format!("`{what}` example words must be strings, got {bad}"))?
            } else {
                return Err(format!(
                    "`{what}` examples must be strings or lists of strings, got {}",
                    describe(*example)
                ));
            };
            if words.is_empty() {
                return Err(format!(
                    "`{what}` example {} has no words",
                    example.to_repr()
                ));
            }
            Ok(words)
        })
        .collect()
}

fn optional_string(value: Option<Value<'_>>, what: &str) -> Result<Option<String>, String> {
    let Some(value) = given(value) else {
        return Ok(None);
    };
    match value.unpack_str() {
        Some(text) => Ok(Some(text.to_string())),
        None => Err(format!(
            "`{what}` expects a string, got {}",
            describe(value)
        )),
    }
}

#[starlark_module]
fn rules_builtins(builder: &mut GlobalsBuilder) {
    /// `prefix_rule(pattern, decision = "allow", justification = None, match = [],
    /// not_match = [])`.
    fn prefix_rule<'v>(
        pattern: Value<'v>,
        decision: Option<Value<'v>>,
        justification: Option<Value<'v>>,
        r#match: Option<Value<'v>>,
        not_match: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let (builder, location) = builder_and_location(eval)?;
        let decision = match given(decision) {
            None => Decision::Allow,
            Some(value) => match value.unpack_str().and_then(Decision::parse) {
                Some(decision) => decision,
                None => {
                    let error = PolicyError::InvalidDecision {
                        location,
                        value: value.to_repr(),
                    };
                    return Err(refuse(builder, error));
                }
            },
        };
        let pattern = match parse_pattern(pattern) {
            Ok(pattern) => pattern,
            Err(message) => {
                let error = PolicyError::InvalidPattern { location, message };
                return Err(refuse(builder, error));
            }
        };
        let justification = match optional_string(justification, "justification") {
            Ok(Some(text)) if text.trim().is_empty() => Err(
                "`justification` must say why the rule exists; leave it out rather than \
                 give an empty string"
                    .to_string(),
            ),
            other => other,
        };
        let justification = match justification {
            Ok(justification) => justification,
            Err(message) => {
                let error = PolicyError::InvalidRule { location, message };
                return Err(refuse(builder, error));
            }
        };
        let examples = parse_examples(r#match, "match")
            .and_then(|matches| Ok((matches, parse_examples(not_match, "not_match")?)));
        let (matches, not_matches) = match examples {
            Ok(examples) => examples,
            Err(message) => {
                let error = PolicyError::InvalidExample { location, message };
                return Err(refuse(builder, error));
            }
        };

        // `parse_pattern` refuses an empty pattern.
        let (programs, rest) = match pattern.split_first() {
            Some((first, rest)) => (first.alternatives().to_vec(), rest),
            None => (Vec::new(), &[][..]),
        };
        let count = builder.borrow().rules.len();
        if count + programs.len() > MAX_RULES {
            let error = PolicyError::TooManyRules {
                location,
                limit: MAX_RULES,
            };
            return Err(refuse(builder, error));
        }
        let mut state = builder.borrow_mut();
        for program in &programs {
            let mut pattern = Vec::with_capacity(rest.len() + 1);
            pattern.push(PatternToken::Single(program.clone()));
            pattern.extend_from_slice(rest);
            state.rules.push(PrefixRule {
                pattern,
                decision,
                justification: justification.clone(),
                location: location.clone(),
            });
        }
        if !matches.is_empty() || !not_matches.is_empty() {
            state.pending.push(PendingExamples {
                first: count,
                count: programs.len(),
                location,
                matches,
                not_matches,
            });
        }
        Ok(NoneType)
    }

    /// `host_executable(name, paths)`: the absolute paths `name` may resolve from when
    /// a command's program is matched by its basename.
    fn host_executable<'v>(
        name: Value<'v>,
        paths: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let (builder, location) = builder_and_location(eval)?;
        match host_executable_paths(name, paths) {
            Ok((name, paths)) => {
                let mut state = builder.borrow_mut();
                let known = state.host_executables.entry(name).or_default();
                for path in paths {
                    if !known.contains(&path) {
                        known.push(path);
                    }
                }
                Ok(NoneType)
            }
            Err(message) => Err(refuse(
                builder,
                PolicyError::InvalidRule { location, message },
            )),
        }
    }
}

fn host_executable_paths(
    name: Value<'_>,
    paths: Value<'_>,
) -> Result<(String, Vec<AbsolutePathBuf>), String> {
    let Some(name) = name.unpack_str() else {
        return Err(format!(
            "host_executable: `name` expects a program name (a string), got {}",
            describe(name)
        ));
    };
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "host_executable: `name` must be a bare program name such as \"git\", got {name:?}"
        ));
    }
    let Some(list) = ListRef::from_value(paths) else {
        return Err(format!(
            "host_executable: `paths` expects a list of absolute paths, got {}",
            describe(paths)
        ));
    };
    let raw = string_list(list)
        .map_err(|bad| format!("host_executable: `paths` must be strings, got {bad}"))?;
    let paths = raw
        .iter()
        .map(|raw| {
            let path = AbsolutePathBuf::try_from_absolute(raw)
                .map_err(|_| format!("host_executable: path {raw:?} is not absolute"))?;
            if path.file_name().and_then(|n| n.to_str()) != Some(name) {
                return Err(format!(
                    "host_executable: path {raw:?} does not end in the program name {name:?}"
                ));
            }
            Ok(path)
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((name.to_string(), paths))
}
