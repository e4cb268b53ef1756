//! The functions defined in the checked files, with their parameter names, and the
//! files that are test modules (`#[cfg(test)] mod x;`).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::path::PathBuf;

use syn::visit::Visit;

use crate::source::SourceFile;

/// One `fn` definition: a free function, an associated function or method of an
/// `impl` block, or a function of a trait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FnDef {
    /// The file it is defined in.
    pub(crate) file: PathBuf,
    /// The `impl`'s self type and, for a trait impl or a trait's own function, the
    /// trait (last path segments, without generics). Empty for a free function.
    pub(crate) owners: Vec<String>,
    /// For a function of `impl Trait for Type`: `Trait`.
    pub(crate) implements: Option<String>,
    /// Whether it is a function declared in a trait (with or without a body).
    pub(crate) in_trait: bool,
    /// Whether it takes `self`.
    pub(crate) has_receiver: bool,
    /// The parameters after `self`: the normalised name (see [`param_name`]), or
    /// `None` for a pattern that is not a plain identifier (`_`, `(a, b)`).
    pub(crate) params: Vec<Option<String>>,
}

/// How a call names its callee, for choosing the candidate definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallShape<'a> {
    /// `receiver.name(args)`: methods taking `self`, of any owner.
    Method,
    /// `module::name(args)`: free functions.
    Free,
    /// `name(args)`: free functions, and only those of the calling file if it
    /// defines one (a local helper shadows same-named helpers elsewhere).
    Unqualified,
    /// `Type::name(args)` (also `Self::` inside an impl or trait, and primitive
    /// types such as `u64::`): functions whose owner is `Type`; a method called this
    /// way takes the receiver as its first argument.
    Owned(&'a str),
    /// `<T>::name(args)`, or `Self::` outside an impl: any associated function.
    AnyOwner,
}

/// What the definitions say about the parameter an argument binds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// No definition fits: a function from outside the checked files (std, a
    /// dependency) or one the lint cannot see (a closure, a macro-generated fn).
    Unknown,
    /// Every fitting definition names the parameter this way.
    Named(String),
    /// Fitting definitions disagree, or one of them has no plain name there.
    Ambiguous,
}

/// All definitions by function name.
#[derive(Debug, Default)]
pub(crate) struct Definitions {
    by_name: BTreeMap<String, Vec<FnDef>>,
    /// Files declared as `#[cfg(test)] mod x;` (candidate paths: `x.rs` and
    /// `x/mod.rs`, or the `#[path]`), and the modules those declare in turn.
    test_modules: BTreeSet<PathBuf>,
    /// The owners of all definitions (see [`FnDef::owners`]).
    owners: BTreeSet<String>,
    /// Every out-of-line module declaration: (declaring file, candidate files).
    module_decls: Vec<(PathBuf, Vec<PathBuf>)>,
}

impl Definitions {
    /// Adds the definitions and module declarations of one parsed file.
    pub(crate) fn collect(&mut self, file: &SourceFile, ast: &syn::File) {
        let mut collector = Collector {
            definitions: self,
            path: &file.path,
            owners: Vec::new(),
            inline_modules: Vec::new(),
            test_depth: 0,
        };
        collector.visit_file(ast);
    }

    /// Whether some definition belongs to the type or trait `name`.
    pub(crate) fn is_owner(&self, name: &str) -> bool {
        self.owners.contains(name)
    }

    /// The files that are test modules: those declared by a `#[cfg(test)]` module
    /// declaration, and, transitively, the modules they declare.
    pub(crate) fn test_files(&self) -> BTreeSet<PathBuf> {
        let mut test_files = self.test_modules.clone();
        loop {
            let before = test_files.len();
            for (declaring, candidates) in &self.module_decls {
                if test_files.contains(declaring) {
                    test_files.extend(candidates.iter().cloned());
                }
            }
            if test_files.len() == before {
                return test_files;
            }
        }
    }

    /// The parameter that argument `index` (0-based, receiver excluded for a method
    /// call) of a call to `name` with `arg_count` arguments, in `file`, binds to.
    pub(crate) fn resolve(
        &self,
        name: &str,
        shape: CallShape<'_>,
        arg_count: usize,
        index: usize,
        file: &Path,
    ) -> Resolution {
        let Some(defs) = self.by_name.get(name) else {
            return Resolution::Unknown;
        };
        // (definition, the parameter's name), for every definition the call fits.
        let mut fitting: Vec<(&FnDef, Option<String>)> = Vec::new();
        for def in defs {
            // The index of the parameter among `def.params`.
            let param_index = match shape {
                CallShape::Method => {
                    if !def.has_receiver || def.params.len() != arg_count {
                        continue;
                    }
                    index
                }
                CallShape::Free | CallShape::Unqualified => {
                    if !def.owners.is_empty() || def.params.len() != arg_count {
                        continue;
                    }
                    index
                }
                CallShape::Owned(_) | CallShape::AnyOwner => {
                    if let CallShape::Owned(owner) = shape {
                        if !def.owners.iter().any(|candidate| candidate == owner) {
                            continue;
                        }
                    } else if def.owners.is_empty() {
                        continue;
                    }
                    let receiver = usize::from(def.has_receiver);
                    if def.params.len() + receiver != arg_count {
                        continue;
                    }
                    let Some(param_index) = index.checked_sub(receiver) else {
                        // The receiver of `Type::method(receiver, ..)` has no name
                        // to check.
                        fitting.push((def, None));
                        continue;
                    };
                    param_index
                }
            };
            // An implementation of a trait declared in the checked files takes the
            // parameter names of the declaration.
            let declared = def.implements.as_ref().and_then(|trait_name| {
                defs.iter().find(|decl| {
                    decl.in_trait
                        && decl.owners.first() == Some(trait_name)
                        && decl.has_receiver == def.has_receiver
                        && decl.params.len() == def.params.len()
                })
            });
            let param = declared.unwrap_or(def).params.get(param_index);
            fitting.push((def, param.cloned().flatten()));
        }
        if shape == CallShape::Unqualified && fitting.iter().any(|(def, _)| def.file == file) {
            fitting.retain(|(def, _)| def.file == file);
        }
        let names: BTreeSet<Option<String>> = fitting.into_iter().map(|(_, name)| name).collect();
        let mut names = names.into_iter();
        match (names.next(), names.next()) {
            (None, _) => Resolution::Unknown,
            (Some(Some(name)), None) => Resolution::Named(name),
            _ => Resolution::Ambiguous,
        }
    }
}

/// A parameter's name for comparison with a comment: the identifier without `r#`
/// and without leading underscores (`_recursive` is an unused `recursive`), or
/// `None` for `_` and for patterns that are not an identifier.
pub(crate) fn param_name(pat: &syn::Pat) -> Option<String> {
    let syn::Pat::Ident(ident) = pat else {
        return None;
    };
    normalise(&ident.ident.to_string())
}

/// See [`param_name`].
pub(crate) fn normalise(name: &str) -> Option<String> {
    let name = name
        .strip_prefix("r#")
        .unwrap_or(name)
        .trim_start_matches('_');
    (!name.is_empty()).then(|| name.to_string())
}

/// Whether attributes mark an item as test code: `#[test]` (also `#[tokio::test]`
/// and other `…::test`), or a `#[cfg(..)]` that mentions `test` and no `not(..)`.
pub(crate) fn is_test_item(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path
            .segments
            .last()
            .is_some_and(|last| last.ident == "test")
        {
            return true;
        }
        if !path.is_ident("cfg") {
            return false;
        }
        let syn::Meta::List(list) = &attr.meta else {
            return false;
        };
        let mut idents = BTreeSet::new();
        collect_idents(list.tokens.clone(), &mut idents);
        idents.contains("test") && !idents.contains("not")
    })
}

fn collect_idents(tokens: proc_macro2::TokenStream, idents: &mut BTreeSet<String>) {
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => {
                idents.insert(ident.to_string());
            }
            proc_macro2::TokenTree::Group(group) => collect_idents(group.stream(), idents),
            proc_macro2::TokenTree::Punct(_) | proc_macro2::TokenTree::Literal(_) => {}
        }
    }
}

/// The last segment of a type's path (`Foo` for `crate::x::Foo<T>`, also through
/// references), if it is a path.
pub(crate) fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string()),
        syn::Type::Reference(reference) => type_name(&reference.elem),
        syn::Type::Paren(paren) => type_name(&paren.elem),
        syn::Type::Group(group) => type_name(&group.elem),
        _ => None,
    }
}

/// Where a function is defined.
#[derive(Debug, Clone, Default)]
struct Context {
    /// See [`FnDef::owners`].
    owners: Vec<String>,
    /// See [`FnDef::implements`].
    implements: Option<String>,
    /// See [`FnDef::in_trait`].
    in_trait: bool,
}

struct Collector<'a> {
    definitions: &'a mut Definitions,
    path: &'a Path,
    /// The enclosing `impl` or trait; an empty entry inside a free fn.
    owners: Vec<Context>,
    /// Names of the enclosing inline `mod x { .. }` blocks.
    inline_modules: Vec<String>,
    /// How many enclosing items are test code.
    test_depth: usize,
}

impl Collector<'_> {
    fn add(&mut self, sig: &syn::Signature, context: Context) {
        let mut has_receiver = false;
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                syn::FnArg::Receiver(_) => has_receiver = true,
                syn::FnArg::Typed(typed) => params.push(param_name(&typed.pat)),
            }
        }
        self.definitions
            .owners
            .extend(context.owners.iter().cloned());
        self.definitions
            .by_name
            .entry(sig.ident.to_string())
            .or_default()
            .push(FnDef {
                file: self.path.to_path_buf(),
                owners: context.owners,
                implements: context.implements,
                in_trait: context.in_trait,
                has_receiver,
                params,
            });
    }

    fn context(&self) -> Context {
        self.owners.last().cloned().unwrap_or_default()
    }

    /// The files an out-of-line `mod name;` may live in.
    fn module_files(&self, module: &syn::ItemMod) -> Vec<PathBuf> {
        let dir = self.path.parent().unwrap_or(Path::new(""));
        let file_name = self
            .path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let is_mod_root = matches!(file_name, "mod.rs" | "lib.rs" | "main.rs");
        let explicit = module.attrs.iter().find_map(|attr| match &attr.meta {
            syn::Meta::NameValue(value) if attr.path().is_ident("path") => match &value.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(path),
                    ..
                }) => Some(path.value()),
                _ => None,
            },
            _ => None,
        });
        // `#[path]` at the top level of a file is relative to the file's directory.
        // Otherwise a non-root file `foo.rs` declares its modules under `foo/`, and
        // each enclosing inline module adds a directory level.
        let mut base = dir.to_path_buf();
        if explicit.is_none() || !self.inline_modules.is_empty() {
            if !is_mod_root {
                if let Some(stem) = self.path.file_stem() {
                    base.push(stem);
                }
            }
            for inline in &self.inline_modules {
                base.push(inline);
            }
        }
        match explicit {
            Some(explicit) => vec![normalise_path(&base.join(explicit))],
            None => {
                let name = module.ident.to_string();
                vec![
                    base.join(format!("{name}.rs")),
                    base.join(name).join("mod.rs"),
                ]
            }
        }
    }
}

/// `a/./b/../c` as `a/c`, without touching the filesystem.
fn normalise_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_file(&mut self, node: &'ast syn::File) {
        if is_test_item(&node.attrs) {
            self.definitions
                .test_modules
                .insert(self.path.to_path_buf());
        }
        syn::visit::visit_file(self, node);
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        self.add(&node.sig, Context::default());
        self.owners.push(Context::default());
        syn::visit::visit_item_fn(self, node);
        self.owners.pop();
    }

    fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
        let mut owners: Vec<String> = type_name(&node.self_ty).into_iter().collect();
        let implements = node
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last().map(|last| last.ident.to_string()));
        owners.extend(implements.clone());
        self.owners.push(Context {
            owners,
            implements,
            in_trait: false,
        });
        syn::visit::visit_item_impl(self, node);
        self.owners.pop();
    }

    fn visit_item_trait(&mut self, node: &'ast syn::ItemTrait) {
        self.owners.push(Context {
            owners: vec![node.ident.to_string()],
            implements: None,
            in_trait: true,
        });
        syn::visit::visit_item_trait(self, node);
        self.owners.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        self.add(&node.sig, self.context());
        self.owners.push(Context::default());
        syn::visit::visit_impl_item_fn(self, node);
        self.owners.pop();
    }

    fn visit_trait_item_fn(&mut self, node: &'ast syn::TraitItemFn) {
        self.add(&node.sig, self.context());
        self.owners.push(Context::default());
        syn::visit::visit_trait_item_fn(self, node);
        self.owners.pop();
    }

    fn visit_foreign_item_fn(&mut self, node: &'ast syn::ForeignItemFn) {
        self.add(&node.sig, Context::default());
        syn::visit::visit_foreign_item_fn(self, node);
    }

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        let is_test = is_test_item(&node.attrs);
        if node.content.is_none() {
            let files = self.module_files(node);
            if is_test || self.test_depth > 0 {
                self.definitions.test_modules.extend(files.iter().cloned());
            }
            self.definitions
                .module_decls
                .push((self.path.to_path_buf(), files));
        }
        self.test_depth += usize::from(is_test);
        self.inline_modules.push(node.ident.to_string());
        syn::visit::visit_item_mod(self, node);
        self.inline_modules.pop();
        self.test_depth -= usize::from(is_test);
    }
}

#[cfg(test)]
#[path = "defs_tests.rs"]
mod tests;
