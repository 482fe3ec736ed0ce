//! One test per tokenizer rule the scan follows, and per place it gives up.

use super::*;

fn scan(html: &str) -> Result<Facts<'_>, Unsure> {
    facts(html)
}

fn hrefs(html: &str) -> Vec<String> {
    scan(html)
        .unwrap_or_else(|Unsure| panic!("unsure on {html:?}"))
        .hrefs
        .iter()
        .map(|(href, _)| href.to_string())
        .collect()
}

fn title(html: &str) -> Option<String> {
    scan(html)
        .unwrap_or_else(|Unsure| panic!("unsure on {html:?}"))
        .title
}

fn unsure(html: &str) {
    assert!(scan(html).is_err(), "answered on {html:?}");
}

#[test]
fn smoke() {
    assert_eq!(hrefs("<a href=/x>x</a>"), ["/x"]);
}
