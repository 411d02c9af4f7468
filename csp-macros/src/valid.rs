//! Rejects what cannot become an OS process, pointing at the offending
//! tokens and saying what to do instead. Every problem is reported, not just
//! the first.

use crate::args::Args;
use crate::ast::Process;
use quote::ToTokens;
use syn::visit::{self, Visit};
use syn::{GenericParam, Ident, Type, TypeParamBound};

/// Checks the attribute's arguments and the function.
pub(crate) fn check(args: syn::Result<Args>, f: &Process) -> syn::Result<()> {
    let mut errors = Errors(None);
    if let Err(e) = args {
        errors.push(e);
    }
    signature(f, &mut errors);
    let lifetime_params: Vec<&Ident> = f
        .sig
        .generics
        .lifetimes()
        .map(|l| &l.lifetime.ident)
        .collect();
    for arg in &f.args {
        types(&arg.ty, Place::Argument, &lifetime_params, &mut errors);
    }
    if let Some(v) = &f.sig.variadic {
        errors.at(
            v,
            "a process cannot be variadic (`...`): its arguments are values that move into \
             another OS process; take a `Vec<T>` or a tuple instead",
        );
    }
    match &f.ret {
        Some(Type::Never(never)) => errors.at(
            never,
            "a process cannot return `!`: its result type is sent back to the parent, which \
             must name it; return `()` instead (a body that never ends is still a `()` body)",
        ),
        Some(ty) => types(ty, Place::Return, &lifetime_params, &mut errors),
        None => {}
    }
    errors.finish()
}

/// The function's qualifiers, generics and receiver.
fn signature(f: &Process, errors: &mut Errors) {
    let sig = &f.sig;
    if let Some(t) = &sig.constness {
        errors.at(
            t,
            "a `const fn` cannot be a process: a process runs at run time, in its own OS \
             process; remove `const`",
        );
    }
    if let Some(t) = &sig.asyncness {
        errors.at(
            t,
            "a process runs in its own OS process; `async fn` cannot be one: make it a plain \
             `fn` and block inside (a process may start its own runtime)",
        );
    }
    if let Some(t) = &sig.unsafety {
        errors.at(
            t,
            "an `unsafe fn` cannot be a process: its body runs later, in another OS process, \
             where the caller's promise at the call site no longer covers it; make the \
             function safe and put `unsafe { ... }` blocks (with their SAFETY comments) inside",
        );
    }
    if let Some(abi) = &sig.abi {
        let written = match &abi.name {
            Some(name) => format!("extern {}", name.to_token_stream()),
            None => "extern".to_string(),
        };
        errors.at(
            abi,
            &format!(
                "a process cannot have an ABI: `#[process]` makes a Rust function that returns \
                 a `csp::Process`, which only Rust code can call; remove `{written}`"
            ),
        );
    }
    for p in &sig.generics.params {
        if let GenericParam::Lifetime(l) = p {
            errors.at(
                l,
                &format!(
                    "a process cannot have lifetime parameters: its arguments move into another \
                     OS process, so they must own their data; remove `{}` and use owned types",
                    l.lifetime
                ),
            );
        }
    }
    if let Some(r) = &f.receiver {
        errors.at(
            r,
            "`#[process]` goes on free functions, not methods: a process cannot take `self`; \
             make it a free function and pass the value as an ordinary argument \
             (`fn run(worker: Worker, ...)`)",
        );
    }
}

/// Where a type appears.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Argument,
    Return,
}

/// Checks one argument type or the return type.
fn types(ty: &Type, place: Place, lifetime_params: &[&Ident], errors: &mut Errors) {
    Types {
        place,
        lifetime_params,
        higher_ranked: Vec::new(),
        in_fn_type: 0,
        errors,
    }
    .visit_type(ty);
}

/// Walks a type for borrows and `impl Trait`.
///
/// Inside a function type (`fn(&str)`), `Fn(&str)` sugar or a `for<'a>`
/// binder, references and lifetimes are higher-ranked: they describe the
/// function's own arguments, not data the value borrows, so they are fine.
struct Types<'a> {
    place: Place,
    /// The function's lifetime parameters, already reported on their own.
    lifetime_params: &'a [&'a Ident],
    /// Lifetimes bound by the `for<...>` binders around this point.
    higher_ranked: Vec<Ident>,
    /// Depth of function types and `Fn(..)` sugar around this point.
    in_fn_type: usize,
    errors: &'a mut Errors,
}

impl<'ast> Visit<'ast> for Types<'_> {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        if self.in_fn_type > 0 {
            return visit::visit_type_reference(self, r);
        }
        let owned = owned_hint(&r.elem);
        let msg = match self.place {
            Place::Argument => format!(
                "a process cannot take a reference: its arguments move into another OS process, \
                 and borrowed data cannot go with them; take an owned type instead ({owned})"
            ),
            Place::Return => format!(
                "a process cannot return a reference: its result is sent back to the parent \
                 process, which cannot see the child's memory; return an owned type instead \
                 ({owned})"
            ),
        };
        self.errors.at(r, &msg);
    }

    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        let name = &l.ident;
        if name == "static"
            || self.in_fn_type > 0
            || self.higher_ranked.contains(name)
            || self.lifetime_params.contains(&name)
        {
            return;
        }
        let msg = match self.place {
            Place::Argument => format!(
                "a process cannot take data that borrows (lifetime `{l}`): its arguments move \
                 into another OS process; use an owned type, or `'static` data"
            ),
            Place::Return => format!(
                "a process cannot return data that borrows (lifetime `{l}`): its result is sent \
                 back to the parent process; return an owned type"
            ),
        };
        self.errors.at(l, &msg);
    }

    fn visit_type_bare_fn(&mut self, f: &'ast syn::TypeBareFn) {
        self.in_fn_type += 1;
        visit::visit_type_bare_fn(self, f);
        self.in_fn_type -= 1;
    }

    fn visit_parenthesized_generic_arguments(
        &mut self,
        p: &'ast syn::ParenthesizedGenericArguments,
    ) {
        self.in_fn_type += 1;
        visit::visit_parenthesized_generic_arguments(self, p);
        self.in_fn_type -= 1;
    }

    fn visit_trait_bound(&mut self, b: &'ast syn::TraitBound) {
        let bound = b.lifetimes.iter().flat_map(|l| l.lifetimes.iter());
        let n = self.higher_ranked.len();
        for p in bound {
            if let GenericParam::Lifetime(l) = p {
                self.higher_ranked.push(l.lifetime.ident.clone());
            }
        }
        visit::visit_trait_bound(self, b);
        self.higher_ranked.truncate(n);
    }

    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        match self.place {
            Place::Return => self.errors.at(
                t,
                "a process cannot return `impl Trait`: its result is decoded by the parent \
                 process, which must know the concrete type; return that type (or a generic \
                 parameter the caller chooses)",
            ),
            Place::Argument if self.in_fn_type > 0 => self.errors.at(
                t,
                "`#[process]` cannot turn this `impl Trait` into a generic parameter (it is \
                 inside a function type or `Fn(..)` bound); declare a named generic parameter \
                 `<T: Trait + 'static>` and use `T` here",
            ),
            Place::Argument => {
                for b in &t.bounds {
                    if let TypeParamBound::PreciseCapture(c) = b {
                        self.errors.at(
                            c,
                            "`#[process]` turns an argument's `impl Trait` into a generic \
                             parameter, which cannot have a `use<..>` bound; remove it",
                        );
                    }
                }
                visit::visit_type_impl_trait(self, t);
            }
        }
    }
}

/// The owned type to suggest for `&elem`.
fn owned_hint(elem: &Type) -> String {
    let last = match elem {
        Type::Slice(_) => return "`Vec<T>` for `&[T]`".to_string(),
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let known = [
        ("str", "String"),
        ("Path", "PathBuf"),
        ("OsStr", "OsString"),
        ("CStr", "CString"),
    ];
    match known
        .iter()
        .find(|(borrowed, _)| last.as_deref() == Some(*borrowed))
    {
        Some((borrowed, owned)) => format!("`{owned}` for `&{borrowed}`"),
        None => "`T` for `&T`, `String` for `&str`, `Vec<T>` for `&[T]`".to_string(),
    }
}

/// Every error found, combined into one.
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn at(&mut self, tokens: impl ToTokens, msg: &str) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
