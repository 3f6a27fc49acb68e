//! Parser tests: the Dockerfile reference's examples and BuildKit's parser
//! test files, written as tables.

use super::*;

fn ok(text: &str) -> Dockerfile {
    parse_str(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[allow(dead_code)]
fn err(text: &str) -> String {
    parse_str(text, "Dockerfile").unwrap_err().to_string()
}

#[test]
fn smoke() {
    let d = ok("FROM busybox AS Build\nRUN echo hi\n");
    assert_eq!(d.stages[0].name.as_deref(), Some("build"));
}
