//! Unit tests of the streaming pass.

use super::*;

#[test]
fn built_in_selectors_parse() {
    LazyLock::force(&SELECTORS);
}

#[test]
fn hostile_nesting_hits_the_memory_limit_instead_of_growing() {
    let html = format!("{}<a href=/x>x</a>", "<div>".repeat(200_000));
    assert_eq!(facts(&html).err(), Some(Unsure));
    let fine = format!("{}<a href=/x>x</a>", "<div>".repeat(1_000));
    assert_eq!(facts(&fine).map(|facts| facts.hrefs.len()), Ok(1));
}

fn hrefs(html: &str) -> Result<Vec<String>, Unsure> {
    facts(html).map(|facts| {
        facts
            .hrefs
            .into_iter()
            .map(|(href, _)| href.into())
            .collect()
    })
}

#[test]
fn links_in_cells_and_captions_are_read_and_links_in_table_structure_are_not() {
    let page = "<table><caption><a href=/c>c</a></caption><tr><td><a href=/1>1</a>\
                <td><table><tr><th><a href=/2>2</a></table><a href=/3>3</a></table><a href=/4>";
    assert_eq!(
        hrefs(page),
        Ok(["/c", "/1", "/2", "/3", "/4"].map(String::from).to_vec())
    );
    for page in [
        "<table><a href=/fostered>",
        "<table><tr><td></td><a href=/fostered>",
        "<table><tr><td></tr><a href=/fostered>",
        "<table><caption></caption><a href=/fostered>",
        // Closes the cell, though `lol_html` has no `<tbody>` open.
        "<table><tr><td></tbody><a href=/fostered>",
        "<table><tr><td><!-- </td> --><a href=/cell>",
        "<table><tr><td><svg><td></svg><a href=/cell>",
        "<div><table><tr><td></div><a href=/cell>",
    ] {
        assert_eq!(hrefs(page), Err(Unsure), "{page}");
    }
    // A tree builder ignores the `<textarea>` (and so reads the rest
    // as markup), `lol_html` does not.
    assert_eq!(
        hrefs("<template><col><textarea></template><a href=/x>"),
        Err(Unsure)
    );
    assert_eq!(
        hrefs("<select><table><td></select><a href=/cell><tr><a href=/fostered>"),
        Err(Unsure)
    );
    assert_eq!(
        hrefs("<table><td><a href=/1>1<object><colgroup><i>"),
        Err(Unsure)
    );
    // Outside tables, table tags change nothing.
    assert_eq!(hrefs("<td><a href=/x>"), Ok(vec!["/x".into()]));
    assert_eq!(
        hrefs("<svg><td></td></svg><a href=/x>"),
        Ok(vec!["/x".into()])
    );
}
