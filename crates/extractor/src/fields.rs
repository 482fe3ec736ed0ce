//! User-defined fields: CSS selectors with parsel-style suffixes, run over
//! a page's parsed tree. Only crawls that ask for fields pay for the tree;
//! the streaming link pass is untouched.
//!
//! A spec is `NAME=SELECTOR` (the first match, or none) or
//! `NAME[]=SELECTOR` (every match, in document order). The selector may end
//! in `::text` (the element's text, whitespace collapsed; also what a bare
//! selector gives), `::attr(NAME)` (an attribute's value) or `::html` (the
//! element's outer HTML).

use encoding_rs::Encoding;
use scraper::{ElementRef, Selector};

/// What a field takes from each matching element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Take {
    Text,
    Attr(String),
    Html,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    many: bool,
    selector: Selector,
    take: Take,
}

/// The fields a crawl extracts, compiled once.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    fields: Vec<Field>,
}

/// One field's value on one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// `NAME=`: the first match, or `None`.
    One(Option<String>),
    /// `NAME[]=`: every match, in document order.
    Many(Vec<String>),
}

/// A field spec that cannot be used, naming the spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{spec}`: {reason}")]
pub struct FieldError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldSpec {
    /// Compiles `NAME=SELECTOR` / `NAME[]=SELECTOR` specs.
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<FieldSpec, FieldError> {
        let mut fields: Vec<Field> = Vec::with_capacity(specs.len());
        for spec in specs {
            let spec = spec.as_ref();
            let field = parse_one(spec)?;
            if fields.iter().any(|known| known.name == field.name) {
                return Err(error(spec, "the name is given twice"));
            }
            fields.push(field);
        }
        Ok(FieldSpec { fields })
    }

    /// Whether no field is asked for.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field's value on the page `body`, decoded with `charset` (the
    /// encoding name the extractor chose, e.g. [`crate::Page::charset`]),
    /// in the order the fields were given.
    pub fn extract(&self, body: &[u8], charset: &str) -> Vec<(String, FieldValue)> {
        let encoding = Encoding::for_label(charset.as_bytes()).unwrap_or(encoding_rs::UTF_8);
        let (text, _, _) = encoding.decode(body);
        // The same guard against hostile nesting as the link extractor's.
        let document = crate::links::parse_within_budget(&text, None);
        self.fields
            .iter()
            .map(|field| {
                let mut matches = document.select(&field.selector);
                let value = if field.many {
                    FieldValue::Many(
                        matches
                            .filter_map(|element| take(element, &field.take))
                            .collect(),
                    )
                } else {
                    FieldValue::One(matches.find_map(|element| take(element, &field.take)))
                };
                (field.name.clone(), value)
            })
            .collect()
    }
}

fn error(spec: &str, reason: impl Into<String>) -> FieldError {
    FieldError {
        spec: spec.to_owned(),
        reason: reason.into(),
    }
}

fn parse_one(spec: &str) -> Result<Field, FieldError> {
    let Some((name, selector)) = spec.split_once('=') else {
        return Err(error(spec, "expected NAME=SELECTOR or NAME[]=SELECTOR"));
    };
    let name = name.trim();
    let (name, many) = match name.strip_suffix("[]") {
        Some(name) => (name.trim(), true),
        None => (name, false),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(error(
            spec,
            "the name must be letters, digits, `_`, `-` or `.`",
        ));
    }
    let selector = selector.trim();
    let (css, take) = split_suffix(selector).map_err(|reason| error(spec, reason))?;
    if css.trim().is_empty() {
        return Err(error(spec, "the selector is empty"));
    }
    let selector = Selector::parse(css)
        .map_err(|problem| error(spec, format!("invalid CSS selector: {problem}")))?;
    Ok(Field {
        name: name.to_owned(),
        many,
        selector,
        take,
    })
}

/// Splits off a `::text`, `::html` or `::attr(NAME)` suffix.
fn split_suffix(selector: &str) -> Result<(&str, Take), String> {
    if let Some(css) = selector.strip_suffix("::text") {
        return Ok((css, Take::Text));
    }
    if let Some(css) = selector.strip_suffix("::html") {
        return Ok((css, Take::Html));
    }
    if let Some(start) = selector.rfind("::attr(") {
        let Some(inner) = selector[start + "::attr(".len()..].strip_suffix(')') else {
            return Err("`::attr(` needs a closing `)` at the end".into());
        };
        let attribute = inner.trim();
        if attribute.is_empty() {
            return Err("`::attr()` needs an attribute name".into());
        }
        return Ok((
            &selector[..start],
            Take::Attr(attribute.to_ascii_lowercase()),
        ));
    }
    if let Some(start) = selector.rfind("::") {
        return Err(format!(
            "unknown suffix `{}` (use ::text, ::attr(NAME) or ::html)",
            &selector[start..]
        ));
    }
    Ok((selector, Take::Text))
}

fn take(element: ElementRef<'_>, take: &Take) -> Option<String> {
    match take {
        Take::Text => {
            let mut text = String::new();
            for piece in element.text() {
                for word in piece.split_whitespace() {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(word);
                }
            }
            Some(text)
        }
        Take::Attr(name) => element.value().attr(name).map(str::to_owned),
        Take::Html => Some(element.html()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCT: &str = r#"<!doctype html><html><head><title>Kettle</title></head><body>
        <h1 class="name">  Steel   <em>Kettle</em> </h1>
        <p class="price" data-currency="EUR">&euro;&nbsp;24.90</p>
        <ul><li class="tag">kitchen</li><li class="tag">steel &amp; glass</li></ul>
        <a class="more" href="/kettles?page=2">More</a>
        </body></html>"#;

    fn values(specs: &[&str], body: &[u8], charset: &str) -> Vec<(String, FieldValue)> {
        FieldSpec::parse(specs).unwrap().extract(body, charset)
    }

    #[test]
    fn text_attributes_html_first_and_all() {
        let got = values(
            &[
                "name=h1.name::text",
                "bare=h1.name",
                "price=.price",
                "currency=.price::attr(data-currency)",
                "tags[]=li.tag::text",
                "emphasis=h1 em::html",
                "missing=.nothing::text",
                "none[]=.nothing",
                "next=a.more::attr(href)",
            ],
            PRODUCT.as_bytes(),
            "UTF-8",
        );
        let one = |text: &str| FieldValue::One(Some(text.to_owned()));
        assert_eq!(
            got,
            vec![
                ("name".into(), one("Steel Kettle")),
                ("bare".into(), one("Steel Kettle")),
                (
                    "price".into(),
                    one("€\u{a0}24.90"
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .as_str())
                ),
                ("currency".into(), one("EUR")),
                (
                    "tags".into(),
                    FieldValue::Many(vec!["kitchen".into(), "steel & glass".into()])
                ),
                ("emphasis".into(), one("<em>Kettle</em>")),
                ("missing".into(), FieldValue::One(None)),
                ("none".into(), FieldValue::Many(vec![])),
                ("next".into(), one("/kettles?page=2")),
            ]
        );
    }

    #[test]
    fn pages_are_decoded_with_their_charset() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("<p class=x>Café Ñandú</p>");
        let got = values(&["x=p.x"], &bytes, "windows-1252");
        assert_eq!(got[0].1, FieldValue::One(Some("Café Ñandú".into())));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, reason) in [
            ("price", "expected NAME=SELECTOR"),
            ("=p", "the name must be"),
            ("p=", "the selector is empty"),
            ("p=div[", "invalid CSS selector"),
            ("p=a::attr(href", "closing `)`"),
            ("p=a::attr()", "attribute name"),
            ("p=a::texts", "unknown suffix `::texts`"),
        ] {
            let error = FieldSpec::parse(&[spec]).unwrap_err();
            assert_eq!(error.spec, spec);
            assert!(error.to_string().contains(reason), "{spec}: {error}");
        }
        let error = FieldSpec::parse(&["a=p", "a[]=li"]).unwrap_err();
        assert!(error.reason.contains("twice"), "{error}");
    }
}
