//! Compile-time checks of `#[process]`: what it accepts, and the error it
//! gives (pointing at the offending tokens) for what cannot become an OS
//! process. One case per file in `tests/ui/`, with its `.stderr` snapshot.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/*.rs");
}
