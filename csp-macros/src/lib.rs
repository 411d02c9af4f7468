//! Procedural macros of `csp`. Use them through the facade: `csp::process`.
//!
//! # What `#[process]` generates
//!
//! ```text
//! /// Docs and attributes are kept.
//! #[process]
//! pub fn f<T: Bound>(a: A, mut b: B, (c, d): (C, D), e: impl Tr) -> R { body }
//! ```
//!
//! becomes a function that builds a process and runs nothing:
//!
//! ```text
//! /// Docs and attributes are kept.
//! pub fn f<T: Bound + 'static, __CspImpl0: Tr + 'static>(
//!     a: A, b: B, __csp_arg2: (C, D), e: __CspImpl0,
//! ) -> ::csp::Process<R> {
//!     let mut __csp_transfer = ::csp::__private::Transfer::new();
//!     ::csp::__private::collect_arg!(__csp_transfer, a);   // its channel ends
//!     ::csp::__private::collect_arg!(__csp_transfer, b);   // move into the child
//!     ::csp::__private::collect_arg!(__csp_transfer, __csp_arg2);
//!     ::csp::__private::collect_arg!(__csp_transfer, e);
//!     ::csp::Process::__from_parts("f", __csp_transfer, move || -> R {
//!         let a = a;                   // every argument moves whole into the
//!         let mut b = b;               // closure, even one the body never
//!         let __csp_arg2 = __csp_arg2; // names: it lives in the child
//!         let (c, d) = __csp_arg2;
//!         let e = e;
//!         body                         // `return` returns from the process
//!     })
//! }
//! ```
//!
//! `R` defaults to `()`. Every type parameter gets a `'static` bound (the
//! body outlives the call; the bound goes in the `where` clause if that is
//! where the parameter is bounded), and each `impl Trait` argument becomes
//! such a parameter. `__csp_transfer` and `__csp_argN` are hygienic: the
//! body cannot see them. The rebinding keeps the user's spans, so rustc's
//! unused-variable and unused-`mut` lints still point at the argument.
//!
//! Rebinding every argument matters: a `move` closure captures only the
//! places its body uses, so without it an argument the body never names
//! (`_keep: Writer<T>`), binds to `_`, or uses only a field of, would be
//! dropped in the parent when the function returns, although
//! `collect_arg!` counted its channel ends as moved into the child.
//!
//! What cannot become an OS process is a compile error that points at the
//! offending tokens and says what to write instead: `async`, `const`,
//! `unsafe` and `extern` functions, variadics, methods (`self`), references
//! and borrowing lifetimes in arguments or the result, lifetime parameters,
//! `impl Trait` or `!` as the result, and arguments to the attribute. After
//! an error a stub with the same signature is emitted, so that callers do
//! not get follow-on errors.
//!
//! # Layout
//!
//! `lib.rs` parses and delegates; `args.rs` reads the attribute's arguments,
//! `ast.rs` builds the typed view, `valid.rs` rejects what cannot be a
//! process, and `expand.rs` emits the code.

extern crate proc_macro;

mod args;
mod ast;
mod expand;
#[cfg(test)]
mod tests;
mod valid;

use proc_macro::TokenStream;

/// Makes a function a process: `fn f(args) -> R` becomes
/// `fn f(args) -> csp::Process<R>`, run by `Parallel!`, `Sequence!`,
/// `Spawn!` or `.spawn()`. Calling it runs nothing.
///
/// The arguments move into the new OS process, so they must own their data
/// (no references or borrowing lifetimes), and the result is sent back to
/// the parent, so `R` must be a serde type (`Serialize + DeserializeOwned`).
#[proc_macro_attribute]
pub fn process(attr: TokenStream, item: TokenStream) -> TokenStream {
    process2(attr.into(), item.into()).into()
}

/// The pipeline of `#[process]`, on `proc_macro2` tokens.
fn process2(
    attr: proc_macro2::TokenStream,
    tokens: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let args = args::parse(attr);
    let item: syn::Item = match syn::parse2(tokens.clone()) {
        Ok(item) => item,
        Err(e) => return expand::not_a_process(&e, &tokens),
    };
    let f = match ast::Process::from_item(item.clone()) {
        Ok(f) => f,
        Err(e) => return expand::not_a_process(&e, &item),
    };
    match valid::check(args, &f) {
        Ok(()) => expand::process(&f),
        Err(e) => expand::stub(&f, &e),
    }
}
