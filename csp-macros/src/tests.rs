//! The pipeline on strings: what it accepts and emits, and the error it
//! gives for each rejected case. The compile-time behaviour with a real
//! `csp` is in the facade's `tests/macro_ui.rs`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Item, ItemFn};

fn run(attr: &str, item: &str) -> TokenStream {
    let attr: TokenStream = attr.parse().unwrap();
    let item: TokenStream = item.parse().unwrap();
    crate::process2(attr, item)
}

/// The messages of the `compile_error!`s in `out`, and the items after them.
fn split(out: TokenStream) -> (Vec<String>, Vec<Item>) {
    let file: syn::File = syn::parse2(out).expect("the output parses as items");
    let mut errors = Vec::new();
    let mut items = Vec::new();
    for item in file.items {
        match item {
            Item::Macro(m) if m.mac.path.segments.last().unwrap().ident == "compile_error" => {
                errors.push(syn::parse2::<syn::LitStr>(m.mac.tokens).unwrap().value());
            }
            other => items.push(other),
        }
    }
    (errors, items)
}

/// The expansion of an accepted function.
fn accept(item: &str) -> ItemFn {
    let (errors, mut items) = split(run("", item));
    assert!(errors.is_empty(), "unexpected errors: {errors:?}");
    assert_eq!(items.len(), 1);
    match items.remove(0) {
        Item::Fn(f) => f,
        other => panic!("not a function: {}", other.into_token_stream()),
    }
}

/// The errors for a rejected function; checks that a stub follows them.
fn reject(attr: &str, item: &str) -> Vec<String> {
    let (errors, items) = split(run(attr, item));
    assert!(!errors.is_empty(), "accepted: {item}");
    assert_eq!(items.len(), 1, "one stub after the errors");
    let Item::Fn(stub) = &items[0] else {
        panic!("the stub is not a function")
    };
    let output = stub.sig.output.to_token_stream().to_string();
    assert!(
        output.starts_with("-> :: csp :: Process <"),
        "stub returns {output}"
    );
    assert!(stub.sig.asyncness.is_none() && stub.sig.constness.is_none());
    assert!(stub.sig.abi.is_none() && stub.sig.variadic.is_none());
    errors
}

fn one_error(item: &str, expected: &str) {
    let errors = reject("", item);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(expected),
        "{:?} does not say {expected:?}",
        errors[0]
    );
}

fn text(tokens: impl ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

#[test]
fn expands_to_a_process_builder() {
    let f = accept(
        "/// Docs.\n#[inline] pub fn count(inp: Reader<u64>, mut limit: u64) -> u64 { limit }",
    );
    assert_eq!(text(&f.sig.output), "-> :: csp :: Process < u64 >");
    assert_eq!(f.attrs.len(), 2, "doc and #[inline] are kept");
    assert_eq!(text(&f.vis), "pub");
    assert_eq!(text(&f.sig.inputs), "inp : Reader < u64 > , limit : u64");
    let body = text(&f.block);
    assert!(body.contains(":: csp :: __private :: collect_arg ! (__csp_transfer , inp)"));
    assert!(body.contains(":: csp :: __private :: collect_arg ! (__csp_transfer , limit)"));
    assert!(body.contains(":: csp :: Process :: __from_parts (\"count\" , __csp_transfer"));
    let allow = "# [allow (clippy :: shadow_same)]";
    assert!(body.contains(&format!(
        "move | | -> u64 {{ {allow} let inp = inp ; {allow} let mut limit = limit ;"
    )));
}

#[test]
fn result_defaults_to_unit() {
    let f = accept("fn idle() {}");
    assert_eq!(text(&f.sig.output), "-> :: csp :: Process < () >");
    let body = text(&f.block);
    assert!(
        body.contains("let __csp_transfer ="),
        "no `mut` without arguments: {body}"
    );
    assert!(body.contains("move | | {"), "{body}");
}

#[test]
fn patterns_are_bound_to_a_name_then_destructured() {
    let f = accept("fn f(a: u8, (c, _): (u8, W), _: W, ref r: String) {}");
    assert_eq!(
        text(&f.sig.inputs),
        "a : u8 , __csp_arg1 : (u8 , W) , __csp_arg2 : W , __csp_arg3 : String"
    );
    let body = text(&f.block);
    for n in 1..=3 {
        assert!(body.contains(&format!("collect_arg ! (__csp_transfer , __csp_arg{n})")));
        assert!(body.contains(&format!("let __csp_arg{n} = __csp_arg{n} ;")));
    }
    assert!(body.contains("let (c , _) = __csp_arg1 ;"));
    assert!(body.contains("let _ = __csp_arg2 ;"));
    assert!(body.contains("let ref r = __csp_arg3 ;"));
}

#[test]
fn argument_attributes() {
    let f = accept("fn f(#[cfg(unix)] a: u8, #[allow(unused_variables)] b: u8) {}");
    assert_eq!(text(&f.sig.inputs), "# [cfg (unix)] a : u8 , b : u8");
    let body = text(&f.block);
    assert!(body.contains("# [cfg (unix)] :: csp :: __private :: collect_arg !"));
    let allow = "# [allow (clippy :: shadow_same)]";
    assert!(body.contains(&format!("# [cfg (unix)] {allow} let a = a ;")));
    assert!(body.contains(&format!("# [allow (unused_variables)] {allow} let b = b ;")));
}

#[test]
fn type_parameters_get_static() {
    let f =
        accept("fn f<T, U: Clone + 'static, V, const N: usize>(t: T, u: [U; N], v: V) -> T { t }");
    assert_eq!(
        text(&f.sig.generics),
        "< T : 'static , U : Clone + 'static , V : 'static , const N : usize >"
    );
}

#[test]
fn impl_trait_arguments_become_generics() {
    let f =
        accept("fn f<T>(t: T, g: impl Fn(u64) -> u64, it: impl Iterator<Item = impl Debug>) {}");
    assert_eq!(
        text(&f.sig.generics),
        "< T : 'static , __CspImpl0 : Fn (u64) -> u64 + 'static , \
         __CspImpl1 : Debug + 'static , __CspImpl2 : Iterator < Item = __CspImpl1 > + 'static >"
    );
    assert_eq!(
        text(&f.sig.inputs),
        "t : T , g : __CspImpl0 , it : __CspImpl2"
    );
}

#[test]
fn raw_names_are_unraw() {
    let f = accept("fn r#match() {}");
    assert!(text(&f.block).contains("__from_parts (\"match\""));
}

#[test]
fn higher_ranked_borrows_and_static_data_are_fine() {
    accept(
        "fn f(p: fn(&str) -> usize, b: Box<dyn for<'a> Fn(&'a str) -> &'a str>, \
         i: impl Fn(&str) -> usize, c: Cow<'static, str>, d: Box<dyn Any + 'static>) {}",
    );
}

#[test]
fn rejects_attribute_arguments() {
    let errors = reject("name = \"w\"", "fn f() {}");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("`#[process]` takes no arguments"));
}

#[test]
fn rejects_async() {
    one_error("async fn f() -> u64 { 1 }", "`async fn` cannot be one");
}

#[test]
fn rejects_const() {
    one_error(
        "const fn f() -> u64 { 1 }",
        "a `const fn` cannot be a process",
    );
}

#[test]
fn rejects_unsafe() {
    one_error("unsafe fn f() {}", "an `unsafe fn` cannot be a process");
}

#[test]
fn rejects_abi() {
    one_error("extern \"C\" fn f() {}", "remove `extern \"C\"`");
    one_error("extern fn f() {}", "remove `extern`");
}

#[test]
fn rejects_variadic() {
    one_error("fn f(a: u8, ...) {}", "cannot be variadic");
}

#[test]
fn rejects_receivers() {
    for recv in ["self", "&self", "&mut self", "mut self", "self: Box<Self>"] {
        one_error(&format!("fn f({recv}, n: u8) {{}}"), "not methods");
    }
}

#[test]
fn rejects_references_anywhere_in_arguments() {
    one_error("fn f(s: &str) {}", "`String` for `&str`");
    one_error("fn f(s: &mut [u8]) {}", "`Vec<T>` for `&[T]`");
    one_error("fn f(s: &std::path::Path) {}", "`PathBuf` for `&Path`");
    one_error("fn f(v: Vec<&'static str>) {}", "cannot take a reference");
    one_error("fn f(v: Option<(u8, &u8)>) {}", "`T` for `&T`");
}

#[test]
fn rejects_lifetime_parameters() {
    one_error("fn f<'a>(c: Cow<'a, str>) {}", "remove `'a`");
}

#[test]
fn rejects_borrowing_lifetimes() {
    one_error("fn f(c: Cow<'_, str>) {}", "lifetime `'_`");
    one_error("fn f(c: Box<dyn Any + 'a>) {}", "lifetime `'a`");
    one_error(
        "fn f() -> Cow<'a, str> { todo!() }",
        "cannot return data that borrows",
    );
}

#[test]
fn rejects_borrowed_results() {
    one_error(
        "fn f() -> &'static str { \"\" }",
        "cannot return a reference",
    );
    one_error(
        "fn f() -> Vec<&'static str> { vec![] }",
        "cannot return a reference",
    );
}

#[test]
fn rejects_impl_trait_results() {
    one_error("fn f() -> impl Debug { 1 }", "cannot return `impl Trait`");
    one_error(
        "fn f() -> Vec<impl Debug> { vec![1] }",
        "cannot return `impl Trait`",
    );
}

#[test]
fn rejects_never_results() {
    one_error("fn f() -> ! { loop {} }", "cannot return `!`");
}

#[test]
fn rejects_impl_trait_it_cannot_name() {
    one_error(
        "fn f(g: fn(impl Debug)) {}",
        "cannot turn this `impl Trait`",
    );
    one_error(
        "fn f(g: impl Fn(impl Debug)) {}",
        "cannot turn this `impl Trait`",
    );
    one_error("fn f(g: impl Debug + use<>) {}", "`use<..>`");
}

#[test]
fn reports_every_problem() {
    let errors = reject(
        "x",
        "async unsafe fn f<'a>(&self, s: &str) -> impl Debug { 1 }",
    );
    assert_eq!(errors.len(), 7, "{errors:?}");
}

#[test]
fn the_stub_keeps_the_signature_valid() {
    let (_, items) = split(run(
        "",
        "async fn f<'a>(x: Cow<'a, str>, y: Cow<'b, str>) -> &str {}",
    ));
    let Item::Fn(stub) = &items[0] else { panic!() };
    assert_eq!(
        text(&stub.sig.inputs),
        "x : Cow < 'a , str > , y : Cow < 'static , str >"
    );
    assert_eq!(
        text(&stub.sig.output),
        "-> :: csp :: Process < & 'static str >"
    );
    let (_, items) = split(run("", "fn f() -> impl Debug { 1 }"));
    let Item::Fn(stub) = &items[0] else { panic!() };
    assert_eq!(text(&stub.sig.output), "-> :: csp :: Process < () >");
}

#[test]
fn rejects_what_is_not_a_function() {
    let (errors, items) = split(run("", "struct S;"));
    assert_eq!(
        errors,
        ["`#[process]` goes on a function: `fn name(args) -> R { body }`"]
    );
    assert_eq!(text(&items[0]), "struct S ;", "the item is kept");
    let (errors, _) = split(run("", "fn f(&self);"));
    assert!(errors[0].starts_with("a process needs a body"));
}

#[test]
fn the_stub_drops_impl_trait_it_cannot_name() {
    let (_, items) = split(run("", "fn f(g: fn(impl Debug), h: impl Debug + use<>) {}"));
    let Item::Fn(stub) = &items[0] else { panic!() };
    assert_eq!(text(&stub.sig.inputs), "g : fn (()) , h : impl Debug");
}

#[test]
fn static_goes_where_the_user_bounds_the_parameter() {
    let f = accept("fn f<T, U: Clone, V>(t: T, u: U, v: V) where T: Clone, V: 'static, U: Send {}");
    assert_eq!(text(&f.sig.generics), "< T , U : Clone + 'static , V >");
    assert_eq!(
        text(&f.sig.generics.where_clause),
        "where T : Clone + 'static , V : 'static , U : Send"
    );
}
