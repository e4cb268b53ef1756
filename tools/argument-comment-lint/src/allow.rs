//! Callees whose one literal argument needs no comment.

/// Calls to these names with exactly one argument (receiver excluded) are not
/// reported: the name already says what the argument is, and a comment would repeat
/// it (`Duration::from_secs(5)`, `Vec::with_capacity(8)`, `iter.take(3)`,
/// `n.saturating_sub(1)`, `Mutex::new(None)`). With more arguments the usual rule
/// applies.
///
/// A plain entry matches the method name, or the last segment of a function's path;
/// an entry `Type::name` matches a path ending in those two segments. A name belongs
/// here only when, for every type that has it, its single argument is one of the
/// groups below. The list is short on purpose; a callee not on it gets a comment.
pub const ALLOWED_SINGLE_LITERAL_CALLEES: &[&str] = &[
    // A quantity in the unit the name states.
    "from_secs",
    "from_secs_f32",
    "from_secs_f64",
    "from_millis",
    "from_micros",
    "from_nanos",
    "from_mode",
    // A capacity, length, size or count.
    "with_capacity",
    "reserve",
    "truncate",
    "take",
    "skip",
    "step_by",
    "repeat",
    "windows",
    "chunks",
    "channel",
    // An index, or the element itself.
    "nth",
    "remove",
    "push",
    "insert",
    // The process exit status.
    "exit",
    "_exit",
    // The other operand of arithmetic or comparison.
    "max",
    "min",
    "pow",
    "div_ceil",
    "checked_add",
    "checked_sub",
    "checked_mul",
    "checked_div",
    "saturating_add",
    "saturating_sub",
    "saturating_mul",
    "wrapping_add",
    "wrapping_sub",
    // The value itself: converted, a fallback, an `Option`'s content, a wrapper's
    // initial value.
    "from",
    "unwrap_or",
    "then_some",
    "Mutex::new",
    "RwLock::new",
    "AtomicBool::new",
    "AtomicI32::new",
    "AtomicI64::new",
    "AtomicU32::new",
    "AtomicU64::new",
    "AtomicUsize::new",
];

/// Whether a call to `name` (qualified by `qualifier`, the path segment before it,
/// if any) with `arg_count` arguments, receiver excluded, is exempt.
pub(crate) fn is_allowed(qualifier: Option<&str>, name: &str, arg_count: usize) -> bool {
    arg_count == 1
        && ALLOWED_SINGLE_LITERAL_CALLEES
            .iter()
            .any(|entry| match entry.split_once("::") {
                Some((entry_qualifier, entry_name)) => {
                    qualifier == Some(entry_qualifier) && name == entry_name
                }
                None => name == *entry,
            })
}
