//! Emits the process-building function.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, parse_quote};

pub(crate) fn process(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut f: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = Vec::new();
    if !attr.is_empty() {
        errors.push(syn::Error::new_spanned(&attr, "`#[process]` takes no arguments"));
    }
    if let Err(e) = crate::valid::check(&f) {
        errors.push(e);
    }
    let ret: syn::Type = match &f.sig.output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, t) => (**t).clone(),
    };
    if !errors.is_empty() {
        // The error, plus a stub with the process signature so that callers
        // do not drown in follow-on errors.
        let errs = errors.iter().map(syn::Error::to_compile_error);
        let mut stub = f.clone();
        stub.sig.asyncness = None;
        stub.sig.constness = None;
        stub.sig.output = parse_quote!(-> ::csp::Process<#ret>);
        stub.block = parse_quote!({ ::core::unreachable!() });
        stub.sig.inputs = stub
            .sig
            .inputs
            .into_iter()
            .filter(|a| matches!(a, FnArg::Typed(_)))
            .collect();
        return quote!(#(#errs)* #[allow(unused_variables)] #stub);
    }

    let name = f.sig.ident.to_string();
    let mut collects = Vec::new();
    let mut unpack = Vec::new();
    for (i, arg) in f.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(t) = arg else { continue };
        let pat = (*t.pat).clone();
        let binding: Ident = match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                if p.mutability.is_some() {
                    let id = p.ident.clone();
                    unpack.push(quote!(let mut #id = #id;));
                    let mut plain = p.clone();
                    plain.mutability = None;
                    t.pat = Box::new(Pat::Ident(plain));
                }
                p.ident.clone()
            }
            other => {
                let id = format_ident!("__csp_arg{}", i, span = Span::mixed_site());
                unpack.push(quote!(let #other = #id;));
                t.pat = parse_quote!(#id);
                id
            }
        };
        collects.push(quote!(::csp::__private::collect_arg!(__csp_transfer, #binding);));
    }
    // Generic types move into a 'static closure.
    for p in f.sig.generics.params.iter_mut() {
        if let syn::GenericParam::Type(tp) = p {
            tp.bounds.push(parse_quote!('static));
        }
    }
    let body = &f.block;
    f.sig.output = parse_quote!(-> ::csp::Process<#ret>);
    f.block = parse_quote!({
        #[allow(unused_mut)]
        let mut __csp_transfer = ::csp::__private::Transfer::new();
        #(#collects)*
        ::csp::Process::__from_parts(#name, __csp_transfer, move || -> #ret {
            #(#unpack)*
            #body
        })
    });
    quote!(#f)
}
