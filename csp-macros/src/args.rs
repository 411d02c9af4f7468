//! The attribute's own arguments: `#[process]` takes none.

use proc_macro2::TokenStream;

/// What `#[process(...)]` was given: nothing, for now. A future option (a
/// start method, say) becomes a field here.
#[derive(Debug)]
pub(crate) struct Args;

/// Parses the tokens inside `#[process(...)]`.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
    if tokens.is_empty() {
        Ok(Args)
    } else {
        Err(syn::Error::new_spanned(
            tokens,
            "`#[process]` takes no arguments: write `#[process]`; to give a process another \
             name, call `.named(\"...\")` on the `Process` the function returns",
        ))
    }
}
