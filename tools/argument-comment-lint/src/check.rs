//! Checking the literal arguments of the calls in one file.

use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::allow;
use crate::defs::CallShape;
use crate::defs::Definitions;
use crate::defs::Resolution;
use crate::defs::is_test_item;
use crate::defs::normalise;
use crate::defs::type_name;
use crate::report::Finding;
use crate::report::FindingKind;
use crate::source::Comment;
use crate::source::SourceFile;

/// Primitive types, which qualify associated functions like types do (`u64::from`).
const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16",
    "u32", "u64", "u128", "usize",
];

/// The findings of one parsed file, in the order the calls appear.
pub(crate) fn check_file(
    file: &SourceFile,
    ast: &syn::File,
    definitions: &Definitions,
    file_is_test: bool,
) -> Vec<Finding> {
    let mut checker = Checker {
        file,
        definitions,
        owners: Vec::new(),
        test_depth: usize::from(file_is_test),
        findings: Vec::new(),
    };
    checker.visit_file(ast);
    checker.findings
}

/// Whether an argument is one the lint is about: `true`, `false`, `None`, or an
/// integer or float literal, possibly negated.
fn is_bare_literal(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Lit(lit) => matches!(
            lit.lit,
            syn::Lit::Bool(_) | syn::Lit::Int(_) | syn::Lit::Float(_)
        ),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => matches!(
            &**expr,
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(_) | syn::Lit::Float(_),
                ..
            })
        ),
        syn::Expr::Path(path) => path.qself.is_none() && path.path.is_ident("None"),
        _ => false,
    }
}

/// A tuple struct or enum variant (`Some`, `Ok`, `Point`, `Kind::Leaf`, `Self`)
/// rather than a function: by naming convention, its name starts with an uppercase
/// letter.
fn is_constructor(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

/// The type a method chain starts from, when it starts with an associated function
/// call or a struct literal: `Type` for `Type::new(..).a(..).b(..)?`.
fn chain_root_type(receiver: &syn::Expr) -> Option<String> {
    match receiver {
        syn::Expr::MethodCall(call) => chain_root_type(&call.receiver),
        syn::Expr::Try(expr) => chain_root_type(&expr.expr),
        syn::Expr::Await(expr) => chain_root_type(&expr.base),
        syn::Expr::Paren(expr) => chain_root_type(&expr.expr),
        syn::Expr::Reference(expr) => chain_root_type(&expr.expr),
        syn::Expr::Call(call) => match &*call.func {
            syn::Expr::Path(path) => {
                let segments = &path.path.segments;
                let qualifier = segments
                    .len()
                    .checked_sub(2)
                    .map(|at| &segments[at].ident)?;
                let qualifier = qualifier.to_string();
                is_constructor(&qualifier).then_some(qualifier)
            }
            _ => None,
        },
        syn::Expr::Struct(literal) => literal
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string()),
        _ => None,
    }
}

struct Checker<'a> {
    file: &'a SourceFile,
    definitions: &'a Definitions,
    /// What `Self` names in the enclosing `impl` or trait, if anything.
    owners: Vec<Option<String>>,
    /// How many enclosing items (or the file itself) are test code.
    test_depth: usize,
    findings: Vec<Finding>,
}

impl Checker<'_> {
    fn check_call<'s>(
        &mut self,
        qualifier: Option<&str>,
        name: &str,
        callee: &str,
        shape: Option<CallShape<'_>>,
        args: impl ExactSizeIterator<Item = &'s syn::Expr>,
    ) {
        let arg_count = args.len();
        if allow::is_allowed(qualifier, name, arg_count) {
            return;
        }
        for (index, arg) in args.enumerate() {
            if !is_bare_literal(arg) {
                continue;
            }
            let span = arg.span();
            let start = span.byte_range().start;
            let resolution = match shape {
                Some(shape) => {
                    self.definitions
                        .resolve(name, shape, arg_count, index, &self.file.path)
                }
                None => Resolution::Unknown,
            };
            let expected = match resolution {
                Resolution::Named(expected) => Some(expected),
                Resolution::Unknown | Resolution::Ambiguous => None,
            };
            let kind = match self.file.comment_before(start) {
                None => FindingKind::Missing { expected },
                Some(Comment::Other(comment)) => FindingKind::NotAName { comment, expected },
                Some(Comment::Name(found)) => match expected {
                    Some(expected) if normalise(&found).as_ref() != Some(&expected) => {
                        FindingKind::WrongName { found, expected }
                    }
                    _ => continue,
                },
            };
            let (line, column) = self.file.line_column(start);
            self.findings.push(Finding {
                path: self.file.path.clone(),
                line,
                column,
                literal: self.file.text_of(span).to_string(),
                callee: callee.to_string(),
                kind,
                in_test_code: self.test_depth > 0,
            });
        }
    }

    /// Visits an item that may be marked as test code.
    fn with_test_attrs(&mut self, attrs: &[syn::Attribute], visit: impl FnOnce(&mut Self)) {
        let is_test = usize::from(is_test_item(attrs));
        self.test_depth += is_test;
        visit(self);
        self.test_depth -= is_test;
    }
}

impl<'ast> Visit<'ast> for Checker<'_> {
    fn visit_expr_call(&mut self, node: &'ast syn::ExprCall) {
        if let syn::Expr::Path(callee) = &*node.func {
            let segments: Vec<String> = callee
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            if let Some(name) = segments.last() {
                if !is_constructor(name) {
                    let owner = self.owners.last().cloned().flatten();
                    let qualifier = segments.len().checked_sub(2).map(|at| &segments[at]);
                    let shape = match qualifier {
                        None if callee.qself.is_some() => CallShape::AnyOwner,
                        None => CallShape::Unqualified,
                        Some(qualifier) if qualifier == "Self" => owner
                            .as_deref()
                            .map_or(CallShape::AnyOwner, CallShape::Owned),
                        Some(qualifier)
                            if is_constructor(qualifier)
                                || PRIMITIVES.contains(&qualifier.as_str()) =>
                        {
                            CallShape::Owned(qualifier)
                        }
                        Some(_) => CallShape::Free,
                    };
                    self.check_call(
                        qualifier.map(String::as_str),
                        name,
                        &segments.join("::"),
                        Some(shape),
                        node.args.iter(),
                    );
                }
            }
        }
        syn::visit::visit_expr_call(self, node);
    }

    fn visit_expr_method_call(&mut self, node: &'ast syn::ExprMethodCall) {
        let name = node.method.to_string();
        // A method of a builder of a type the checked files define nothing for
        // (`OpenOptions::new().read(true)`) is that type's, not a same-named one of
        // ours.
        let shape = match chain_root_type(&node.receiver) {
            Some(root) if !self.definitions.is_owner(&root) => None,
            _ => Some(CallShape::Method),
        };
        self.check_call(
            /*qualifier*/ None,
            &name,
            &format!(".{name}"),
            shape,
            node.args.iter(),
        );
        syn::visit::visit_expr_method_call(self, node);
    }

    fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
        self.owners.push(type_name(&node.self_ty));
        self.with_test_attrs(&node.attrs, |this| syn::visit::visit_item_impl(this, node));
        self.owners.pop();
    }

    fn visit_item_trait(&mut self, node: &'ast syn::ItemTrait) {
        self.owners.push(Some(node.ident.to_string()));
        self.with_test_attrs(&node.attrs, |this| {
            syn::visit::visit_item_trait(this, node);
        });
        self.owners.pop();
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        self.owners.push(None);
        self.with_test_attrs(&node.attrs, |this| syn::visit::visit_item_fn(this, node));
        self.owners.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        self.with_test_attrs(&node.attrs, |this| {
            syn::visit::visit_impl_item_fn(this, node);
        });
    }

    fn visit_trait_item_fn(&mut self, node: &'ast syn::TraitItemFn) {
        self.with_test_attrs(&node.attrs, |this| {
            syn::visit::visit_trait_item_fn(this, node);
        });
    }

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        self.with_test_attrs(&node.attrs, |this| syn::visit::visit_item_mod(this, node));
    }

    fn visit_item_const(&mut self, node: &'ast syn::ItemConst) {
        self.with_test_attrs(&node.attrs, |this| {
            syn::visit::visit_item_const(this, node);
        });
    }

    fn visit_item_static(&mut self, node: &'ast syn::ItemStatic) {
        self.with_test_attrs(&node.attrs, |this| {
            syn::visit::visit_item_static(this, node);
        });
    }
}
