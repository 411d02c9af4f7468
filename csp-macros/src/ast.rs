//! The typed view of a `#[process]` function that the later stages read.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{
    Attribute, Block, FnArg, Ident, Item, Pat, Receiver, ReturnType, Signature, Token, Type,
    Visibility,
};

/// A function marked `#[process]`.
pub(crate) struct Process {
    /// Doc comments and other attributes, kept on the generated function.
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// The signature as written: validation points into it, the stub keeps it.
    pub sig: Signature,
    /// `self`, `&self`...: never valid, kept so that validation can point at it.
    pub receiver: Option<Receiver>,
    /// The typed arguments, in order.
    pub args: Vec<Arg>,
    /// The return type as written; `None` for `()`.
    pub ret: Option<Type>,
    pub body: Box<Block>,
}

/// One typed argument.
pub(crate) struct Arg {
    /// Position among all inputs, receiver included (names `__csp_argN`).
    pub index: usize,
    /// `#[cfg]`, `#[allow]`... on the argument.
    pub attrs: Vec<Attribute>,
    pub binding: Binding,
    pub ty: Box<Type>,
}

/// How an argument is bound.
pub(crate) enum Binding {
    /// `name: T` or `mut name: T`.
    Ident {
        ident: Ident,
        mutability: Option<Token![mut]>,
    },
    /// Any other pattern: `(a, b): (A, B)`, `_: T`, `ref x: T`, `P { x, y }: P`.
    Pattern(Box<Pat>),
}

impl Process {
    /// The typed view of `item`, or why `item` cannot be one.
    pub fn from_item(item: Item) -> Result<Self, syn::Error> {
        let f = match item {
            Item::Fn(f) => f,
            Item::Verbatim(tokens) if syn::parse2::<syn::TraitItemFn>(tokens.clone()).is_ok() => {
                return Err(syn::Error::new_spanned(
                    tokens,
                    "a process needs a body: `#[process]` goes on a function with a body, \
                     not on a declaration in a trait or an `extern` block",
                ));
            }
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "`#[process]` goes on a function: `fn name(args) -> R { body }`",
                ));
            }
        };
        let mut receiver = None;
        let mut args = Vec::new();
        for (index, input) in f.sig.inputs.iter().enumerate() {
            match input {
                FnArg::Receiver(r) => receiver = Some(r.clone()),
                FnArg::Typed(t) => args.push(Arg {
                    index,
                    attrs: t.attrs.clone(),
                    binding: Binding::of(&t.pat),
                    ty: t.ty.clone(),
                }),
            }
        }
        let ret = match &f.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some((**ty).clone()),
        };
        Ok(Process {
            attrs: f.attrs,
            vis: f.vis,
            sig: f.sig,
            receiver,
            args,
            ret,
            body: f.block,
        })
    }

    /// The type the process returns: the written one, or `()`.
    pub fn ret_type(&self) -> TokenStream {
        match &self.ret {
            Some(ty) => ty.to_token_stream(),
            None => quote::quote!(()),
        }
    }
}

impl Binding {
    fn of(pat: &Pat) -> Self {
        match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Binding::Ident {
                ident: p.ident.clone(),
                mutability: p.mutability,
            },
            other => Binding::Pattern(Box::new(other.clone())),
        }
    }
}
