//! TOML plumbing shared by the config and requirements loaders: parsing with located
//! errors, unknown-key detection against a schema, `-c` overrides, deep merging.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Table;
use toml::Value;
use toml::de::DeTable;
use toml::de::DeValue;

use crate::error::Location;

/// Where a TOML document came from, to build [`Location`]s.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DocOrigin<'a> {
    /// A local file.
    File(&'a Path),
    /// A URL (cloud requirements).
    Url(&'a str),
}

impl DocOrigin<'_> {
    pub(crate) fn location(&self, text: &str, span: Option<Range<usize>>) -> Location {
        let (line, column) = span.map_or((1, 1), |span| line_col(text, span.start));
        match self {
            DocOrigin::File(path) => Location::File {
                path: path.to_path_buf(),
                line,
                column,
            },
            DocOrigin::Url(url) => Location::Url {
                url: (*url).to_string(),
                line,
                column,
            },
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(/*default*/ 0, |i| i + 1);
    let column = before
        .get(line_start..)
        .map_or(/*default*/ 0, |s| s.chars().count())
        + 1;
    (line, column)
}

/// Which keys a document may contain; anything else is reported as unknown.
#[derive(Debug)]
pub(crate) enum Schema {
    /// A value of any shape; its insides are not checked.
    Leaf,
    /// A table with exactly these keys.
    Table(&'static [(&'static str, Schema)]),
    /// A table with arbitrary keys whose values all follow the inner schema.
    AnyKeys(&'static Schema),
}

/// A parsed document: the raw table (for merging), the typed view (for validation), and
/// the unknown keys with their locations.
#[derive(Debug)]
pub(crate) struct ParsedDoc<T> {
    pub(crate) table: Table,
    pub(crate) typed: T,
    pub(crate) unknown_keys: Vec<(String, Location)>,
}

/// Parses `text`, reporting malformed TOML, wrong types and bad values at their
/// file:line:column.
pub(crate) fn parse_doc<T: DeserializeOwned>(
    text: &str,
    origin: DocOrigin<'_>,
    schema: &Schema,
) -> Result<ParsedDoc<T>, (Location, String)> {
    let located = |err: toml::de::Error| {
        (
            origin.location(text, err.span()),
            err.message().trim().to_string(),
        )
    };
    let table: Table = toml::from_str(text).map_err(located)?;
    let typed: T = toml::from_str(text).map_err(located)?;
    let spans = DeTable::parse(text).map_err(located)?;
    let unknown_keys = unknown_keys(&table, schema)
        .into_iter()
        .map(|path| {
            let span = key_span(spans.get_ref(), &path);
            (dotted(&path), origin.location(text, span))
        })
        .collect();
    Ok(ParsedDoc {
        table,
        typed,
        unknown_keys,
    })
}

/// Key paths in `table` that `schema` does not know.
pub(crate) fn unknown_keys(table: &Table, schema: &Schema) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    walk(table, schema, &mut Vec::new(), &mut out);
    out
}

fn walk(table: &Table, schema: &Schema, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (key, value) in table {
        let inner = match schema {
            Schema::Leaf => return,
            Schema::Table(keys) => keys.iter().find(|(k, _)| k == key).map(|(_, s)| s),
            Schema::AnyKeys(inner) => Some(*inner),
        };
        prefix.push(key.clone());
        match (inner, value) {
            (None, _) => out.push(prefix.clone()),
            (Some(inner), Value::Table(sub)) => walk(sub, inner, prefix, out),
            (Some(_), _) => {}
        }
        prefix.pop();
    }
}

fn key_span(table: &DeTable<'_>, path: &[String]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == first)?;
    if rest.is_empty() {
        return Some(key.span());
    }
    match value.get_ref() {
        DeValue::Table(sub) => key_span(sub, rest),
        _ => Some(key.span()),
    }
}

/// Joins key segments, quoting those that are not bare TOML keys.
pub(crate) fn dotted(path: &[String]) -> String {
    let segments: Vec<String> = path
        .iter()
        .map(|seg| {
            let bare = !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                seg.clone()
            } else {
                format!("{seg:?}")
            }
        })
        .collect();
    segments.join(".")
}

/// A parsed `-c key=value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    pub(crate) raw: String,
    pub(crate) key: String,
    pub(crate) value_text: String,
    pub(crate) path: Vec<String>,
    pub(crate) value: Value,
}

/// Parses `key=value`. The key may be dotted (and quoted like a TOML key); the value is
/// parsed as a TOML value and, when that fails, taken as a plain string (so
/// `sandbox_mode=read-only` works without shell-quoting the TOML quotes).
pub(crate) fn parse_override(raw: &str) -> Result<Override, String> {
    let Some((key, value_text)) = raw.split_once('=') else {
        return Err("expected key=value".to_string());
    };
    let key = key.trim();
    let value_text = value_text.trim();
    if key.is_empty() {
        return Err("the key is empty".to_string());
    }
    let path = parse_key_path(key).ok_or_else(|| format!("`{key}` is not a valid TOML key"))?;
    let value = parse_value(value_text);
    Ok(Override {
        raw: raw.to_string(),
        key: key.to_string(),
        value_text: value_text.to_string(),
        path,
        value,
    })
}

fn parse_key_path(key: &str) -> Option<Vec<String>> {
    if key.contains(['\n', '\r', '=', '[', '#']) {
        return None;
    }
    let table: Table = toml::from_str(&format!("{key} = 0")).ok()?;
    let mut path = Vec::new();
    let mut current = &table;
    loop {
        if current.len() != 1 {
            return None;
        }
        let (k, v) = current.iter().next()?;
        path.push(k.clone());
        match v {
            Value::Table(sub) => current = sub,
            Value::Integer(0) => return Some(path),
            _ => return None,
        }
    }
}

fn parse_value(text: &str) -> Value {
    if text.contains(['\n', '\r']) {
        return Value::String(text.to_string());
    }
    match toml::from_str::<Table>(&format!("value = {text}")) {
        Ok(mut table) if table.len() == 1 => table
            .remove("value")
            .unwrap_or_else(|| Value::String(text.to_string())),
        _ => Value::String(text.to_string()),
    }
}

/// Wraps `value` in nested tables along `path`.
pub(crate) fn nest(path: &[String], value: Value) -> Table {
    let mut value = value;
    for seg in path.iter().rev() {
        let mut table = Table::new();
        table.insert(seg.clone(), value);
        value = Value::Table(table);
    }
    match value {
        Value::Table(table) => table,
        _ => Table::new(),
    }
}

/// Merges `upper` into `base`: tables merge key by key, anything else (arrays included)
/// is replaced. Every leaf written is attributed to `source` in `sources` (dotted keys).
pub(crate) fn merge<S: Clone>(
    base: &mut Table,
    upper: &Table,
    source: &S,
    sources: &mut BTreeMap<String, S>,
) {
    merge_at(base, upper, source, sources, &mut Vec::new());
}

fn merge_at<S: Clone>(
    base: &mut Table,
    upper: &Table,
    source: &S,
    sources: &mut BTreeMap<String, S>,
    prefix: &mut Vec<String>,
) {
    for (key, value) in upper {
        prefix.push(key.clone());
        match (base.get_mut(key), value) {
            (Some(Value::Table(existing)), Value::Table(sub)) => {
                merge_at(existing, sub, source, sources, prefix);
            }
            (_, Value::Table(sub)) => {
                forget(sources, prefix);
                let mut fresh = Table::new();
                merge_at(&mut fresh, sub, source, sources, prefix);
                base.insert(key.clone(), Value::Table(fresh));
            }
            (_, leaf) => {
                forget(sources, prefix);
                sources.insert(dotted(prefix), source.clone());
                base.insert(key.clone(), leaf.clone());
            }
        }
        prefix.pop();
    }
}

/// Drops the sources recorded for `path` and everything below it.
fn forget<S>(sources: &mut BTreeMap<String, S>, path: &[String]) {
    let key = dotted(path);
    let below = format!("{key}.");
    sources.retain(|k, _| k != &key && !k.starts_with(&below));
}

#[cfg(test)]
#[path = "toml_util_tests.rs"]
mod tests;
