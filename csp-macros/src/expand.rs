//! Emits the function that builds the process, or, after an error, a stub
//! with the same signature so that callers type-check without follow-on
//! errors.

use crate::ast::{Binding, Process};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    FnArg, GenericParam, Generics, Ident, Lifetime, Token, Type, TypeParam, TypeParamBound,
    WherePredicate, parse_quote,
};

/// The function that builds the process.
///
/// Every argument is walked for channel ends (`collect_arg!`), then moved
/// whole into the body closure: each is rebound at the top of the closure,
/// so that even an argument the body never names (`_keep: Writer<T>`) or
/// only partly uses lives in the child, not in the parent.
pub(crate) fn process(f: &Process) -> TokenStream {
    let transfer = Ident::new("__csp_transfer", Span::mixed_site());
    let name = syn::ext::IdentExt::unraw(&f.sig.ident).to_string();
    let mut impls = ImplToGeneric::default();
    let mut inputs = Vec::new();
    let mut collects = Vec::new();
    let mut rebinds = Vec::new();
    for arg in &f.args {
        let (cfgs, lints): (Vec<_>, Vec<_>) =
            arg.attrs.iter().partition(|a| a.path().is_ident("cfg"));
        let mut ty = arg.ty.clone();
        impls.visit_type_mut(&mut ty);
        let var = match &arg.binding {
            Binding::Ident { ident, mutability } => {
                let inner = rebinding(ident);
                rebinds.push(quote! {
                    #(#cfgs)* #(#lints)* #[allow(clippy::shadow_same)]
                    let #mutability #inner = #inner;
                });
                ident.clone()
            }
            Binding::Pattern(pat) => {
                let var = format_ident!("__csp_arg{}", arg.index, span = Span::mixed_site());
                rebinds.push(quote! {
                    #(#cfgs)* let #var = #var;
                    #(#cfgs)* #(#lints)* let #pat = #var;
                });
                var
            }
        };
        inputs.push(quote!(#(#cfgs)* #var: #ty));
        collects.push(quote!(#(#cfgs)* ::csp::__private::collect_arg!(#transfer, #var);));
    }

    let mut sig = f.sig.clone();
    sig.generics = static_generics(&f.sig.generics, impls.params);
    sig.inputs = parse_quote!(#(#inputs),*);
    let ret = f.ret_type();
    sig.output = parse_quote!(-> ::csp::Process<#ret>);
    let closure_ret = f.ret.as_ref().map(|ty| quote!(-> #ty));
    let mutability = (!f.args.is_empty()).then(|| quote!(mut));
    let body = &f.body;
    let attrs = &f.attrs;
    let vis = &f.vis;
    let closure = quote! {
        move || #closure_ret {
            #(#rebinds)*
            #body
        }
    };
    // Spanned at the return type: a result that is not serde points there.
    let build = quote_spanned! {ret_span(f)=>
        ::csp::Process::__from_parts(#name, #transfer, #closure)
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            let #mutability #transfer = ::csp::__private::Transfer::new();
            #(#collects)*
            #build
        }
    }
}

/// The name that rebinds argument `ident` inside the body closure.
///
/// Normally `ident` itself, so that rustc's unused-variable and unused-`mut`
/// lints point at the user's argument as they would without the macro. An
/// `_x`, which those lints ignore anyway, is marked as coming from the macro
/// instead, so that lints about using an `_x` binding (which the user did not
/// write) stay quiet.
fn rebinding(ident: &Ident) -> Ident {
    let mut name = ident.clone();
    if ident.to_string().starts_with('_') {
        name.set_span(Span::call_site().located_at(ident.span()));
    }
    name
}

/// The error, and a stub with the process's signature.
pub(crate) fn stub(f: &Process, error: &syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let mut sig = f.sig.clone();
    // What would be an error (or change how callers see it) on its own.
    sig.constness = None;
    sig.asyncness = None;
    sig.abi = None;
    sig.variadic = None;
    let declared: Vec<Ident> = sig
        .generics
        .lifetimes()
        .map(|l| l.lifetime.ident.clone())
        .collect();
    let mut in_args = StubTypes {
        declared: &declared,
        in_return: false,
        higher_ranked: 0,
    };
    for input in sig.inputs.iter_mut() {
        if let FnArg::Typed(t) = input {
            in_args.visit_type_mut(&mut t.ty);
        }
    }
    let ret = match &f.ret {
        None | Some(Type::Never(_)) => quote!(()),
        Some(ty) if contains_impl_trait(ty) => quote!(()),
        Some(ty) => {
            let mut ty = ty.clone();
            let mut in_ret = StubTypes {
                declared: &declared,
                in_return: true,
                higher_ranked: 0,
            };
            in_ret.visit_type_mut(&mut ty);
            ty.into_token_stream()
        }
    };
    sig.output = parse_quote!(-> ::csp::Process<#ret>);
    let attrs = &f.attrs;
    let vis = &f.vis;
    quote! {
        #error
        #(#attrs)*
        #[allow(unused)]
        #vis #sig {
            ::core::panic!("`#[process]` rejected this function")
        }
    }
}

/// The error, and the item unchanged (it is not a function, or not one
/// that `syn` can read).
pub(crate) fn not_a_process(error: &syn::Error, item: &impl ToTokens) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#error #item)
}

/// The span errors about the result type should point at.
fn ret_span(f: &Process) -> Span {
    match &f.ret {
        Some(ty) => ty.span(),
        None => Span::call_site(),
    }
}

/// The generics with `'static` on every type parameter (the body closure
/// must be `'static`), plus the parameters made from `impl Trait` arguments.
/// The bound goes where the user bounds the parameter: inline, or in the
/// `where` clause if that is the only place (one place for bounds).
fn static_generics(generics: &Generics, extra: Vec<TypeParam>) -> Generics {
    let mut g = generics.clone();
    let mut where_clause = g.where_clause.take();
    for p in &mut g.params {
        let GenericParam::Type(t) = p else { continue };
        let in_where = where_clause.as_mut().and_then(|w| {
            w.predicates.iter_mut().find_map(|p| match p {
                WherePredicate::Type(pt)
                    if pt.lifetimes.is_none() && is_param(&pt.bounded_ty, &t.ident) =>
                {
                    Some(&mut pt.bounds)
                }
                _ => None,
            })
        });
        match in_where {
            Some(bounds) if t.bounds.is_empty() => add_static(bounds),
            Some(bounds) if has_static(bounds) => {}
            _ => add_static(&mut t.bounds),
        }
    }
    g.where_clause = where_clause;
    for mut t in extra {
        add_static(&mut t.bounds);
        g.params.push(GenericParam::Type(t));
    }
    g
}

fn is_param(ty: &Type, ident: &Ident) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.is_ident(ident))
}

fn has_static(bounds: &Punctuated<TypeParamBound, Token![+]>) -> bool {
    bounds
        .iter()
        .any(|b| matches!(b, TypeParamBound::Lifetime(l) if l.ident == "static"))
}

fn add_static(bounds: &mut Punctuated<TypeParamBound, Token![+]>) {
    if !has_static(bounds) {
        bounds.push(parse_quote!('static));
    }
}

/// Turns each `impl Trait` in an argument type into a named generic
/// parameter, inner ones first (`impl Iterator<Item = impl Debug>`).
#[derive(Default)]
struct ImplToGeneric {
    params: Vec<TypeParam>,
}

impl VisitMut for ImplToGeneric {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        visit_mut::visit_type_mut(self, ty);
        if let Type::ImplTrait(t) = ty {
            let ident = format_ident!("__CspImpl{}", self.params.len(), span = t.impl_token.span);
            let bounds = &t.bounds;
            self.params.push(parse_quote!(#ident: #bounds));
            *ty = parse_quote!(#ident);
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Find(bool);
    impl<'ast> syn::visit::Visit<'ast> for Find {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = Find(false);
    syn::visit::Visit::visit_type(&mut find, ty);
    find.0
}

/// Makes the stub's types valid on their own, so that the only errors are
/// the ones `valid` reported: a lifetime the function does not declare
/// becomes `'static` (in the return type, so does an elided one), an
/// `impl Trait` inside a function type becomes `()`, and `use<..>` bounds
/// go. Higher-ranked lifetimes (in function types, `Fn(..)` sugar and
/// `for<..>` bounds) are left alone.
struct StubTypes<'a> {
    declared: &'a [Ident],
    in_return: bool,
    /// Depth of function types, `Fn(..)` sugar and `for<..>` bounds.
    higher_ranked: usize,
}

impl VisitMut for StubTypes<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if self.higher_ranked > 0 && matches!(ty, Type::ImplTrait(_)) {
            *ty = parse_quote!(());
        }
        visit_mut::visit_type_mut(self, ty);
    }

    fn visit_type_impl_trait_mut(&mut self, t: &mut syn::TypeImplTrait) {
        t.bounds = std::mem::take(&mut t.bounds)
            .into_iter()
            .filter(|b| !matches!(b, TypeParamBound::PreciseCapture(_)))
            .collect();
        visit_mut::visit_type_impl_trait_mut(self, t);
    }

    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        let elided = l.ident == "_";
        if self.higher_ranked == 0
            && l.ident != "static"
            && !self.declared.contains(&l.ident)
            && (!elided || self.in_return)
        {
            *l = Lifetime::new("'static", l.span());
        }
    }

    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if self.in_return && self.higher_ranked == 0 && r.lifetime.is_none() {
            r.lifetime = Some(Lifetime::new("'static", r.and_token.span));
        }
        visit_mut::visit_type_reference_mut(self, r);
    }

    fn visit_type_bare_fn_mut(&mut self, f: &mut syn::TypeBareFn) {
        self.higher_ranked += 1;
        visit_mut::visit_type_bare_fn_mut(self, f);
        self.higher_ranked -= 1;
    }

    fn visit_parenthesized_generic_arguments_mut(
        &mut self,
        p: &mut syn::ParenthesizedGenericArguments,
    ) {
        self.higher_ranked += 1;
        visit_mut::visit_parenthesized_generic_arguments_mut(self, p);
        self.higher_ranked -= 1;
    }

    fn visit_trait_bound_mut(&mut self, b: &mut syn::TraitBound) {
        let binder = usize::from(b.lifetimes.is_some());
        self.higher_ranked += binder;
        visit_mut::visit_trait_bound_mut(self, b);
        self.higher_ranked -= binder;
    }
}
