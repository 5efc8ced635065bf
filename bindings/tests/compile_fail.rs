//! Mistakes in a stack that must not compile: a misspelt or read-only
//! attribute, a value or reference of the wrong type, a missing required
//! argument. Each case's expected compiler output is in tests/compile-fail/;
//! after a compiler upgrade changes its wording, review and refresh them with
//! `TRYBUILD=overwrite cargo test -p bindings --test compile_fail`.

#[test]
fn stack_mistakes_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile-fail/*.rs");
}
