//! Rejects what cannot move into another OS process, pointing at it.

use syn::visit::Visit;
use syn::{FnArg, ItemFn, ReturnType, Type};

fn err(tokens: impl quote::ToTokens, msg: &str) -> syn::Error {
    syn::Error::new_spanned(tokens, msg)
}

/// Finds references and non-'static lifetimes inside a type.
struct Borrows {
    found: Option<syn::Error>,
    what: &'static str,
}

impl<'ast> Visit<'ast> for Borrows {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        if self.found.is_none() {
            self.found = Some(err(
                r,
                &format!(
                    "{} of a process cannot be a reference: borrowed data cannot move into another OS process; use an owned type (`String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`)",
                    self.what
                ),
            ));
        }
    }
    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        if self.found.is_none() && l.ident != "static" {
            self.found = Some(err(
                l,
                &format!(
                    "{} of a process cannot hold a borrow (lifetime `{l}`): only owned data moves into another OS process",
                    self.what
                ),
            ));
        }
    }
    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        if self.found.is_none() {
            self.found = Some(err(
                t,
                &format!(
                    "{} of a process cannot be `impl Trait`; use a named generic parameter or a concrete type",
                    self.what
                ),
            ));
        }
    }
}

fn check_type(ty: &Type, what: &'static str) -> syn::Result<()> {
    let mut v = Borrows { found: None, what };
    v.visit_type(ty);
    match v.found {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Checks a function that `#[process]` will turn into a process.
pub(crate) fn check(f: &ItemFn) -> syn::Result<()> {
    let sig = &f.sig;
    if let Some(a) = &sig.asyncness {
        return Err(err(
            a,
            "a process runs in its own OS process; `async fn` cannot be one: make it a plain `fn` and block inside",
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(err(c, "a `const fn` cannot be a process: remove `const`"));
    }
    if let Some(abi) = &sig.abi {
        return Err(err(abi, "a process cannot have an `extern` ABI: remove it"));
    }
    if let Some(v) = &sig.variadic {
        return Err(err(v, "a process cannot be variadic"));
    }
    for p in &sig.generics.params {
        if let syn::GenericParam::Lifetime(l) = p {
            return Err(err(
                l,
                "a process cannot have lifetime parameters: its arguments move into another OS process, so they must own their data",
            ));
        }
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => {
                return Err(err(
                    r,
                    "`#[process]` goes on a free function, not a method: `self` cannot move into another OS process; pass what the process needs as arguments",
                ));
            }
            FnArg::Typed(t) => check_type(&t.ty, "an argument")?,
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        check_type(ty, "the return type")?;
    }
    Ok(())
}
