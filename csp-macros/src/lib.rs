//! Procedural macros of `csp`. Use them through the facade: `csp::process`.
//!
//! `#[process] fn f(a: A, b: B) -> R { body }` becomes
//! `fn f(a: A, b: B) -> ::csp::Process<R>`: calling it runs nothing. The
//! arguments are walked for channel ends (so that ends moved into the child
//! stay counted as live when the parent drops its copies), then moved into a
//! closure that is the process body.

extern crate proc_macro;

mod expand;
mod valid;

use proc_macro::TokenStream;

/// Makes a function a process: `fn f(args) -> R` becomes
/// `fn f(args) -> csp::Process<R>`, run by `Parallel!`, `Sequence!`,
/// `Spawn!` or `.spawn()`.
#[proc_macro_attribute]
pub fn process(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let item = proc_macro2::TokenStream::from(item);
    expand::process(attr, item).into()
}
