//! `--field`: CSS-selected values in each HTML record, checked against
//! test-site pages whose content is known.

mod common;

use common::{FAST, Site, read_records, trawl, workdir, write_seeds};
use serde_json::{Value, json};
use trawl_testsite::SiteConfig;

const FIELDS: &[&str] = &[
    "--field",
    "name=h1.name::text",
    "--field",
    "price=.price",
    "--field",
    "currency=.price::attr(data-currency)",
    "--field",
    "sku=.product::attr(data-sku)",
    "--field",
    "tags[]=li.tag",
    "--field",
    "images[]=img::attr(src)",
    "--field",
    "emphasis=h1 em::html",
    "--field",
    "text=p",
];

#[test]
fn fields_come_from_the_pages_markup() {
    let site = Site::start(SiteConfig {
        pages: 3,
        links_per_page: 1,
        ..SiteConfig::default()
    });
    let dir = workdir();
    let seeds = [
        site.url("/fault/product?id=1"),
        site.url("/fault/latin1?declared=meta"),
        site.url("/fault/sjis?declared=header"),
        site.url("/fault/reset"),
    ];
    let seed_refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    write_seeds(dir.path(), &seed_refs);
    let args: Vec<&str> = [
        "crawl",
        "seeds.txt",
        "-o",
        "crawl.jsonl",
        "--max-depth",
        "1",
    ]
    .into_iter()
    .chain(FIELDS.iter().copied())
    .chain(FAST.iter().copied())
    .collect();
    let run = trawl(dir.path(), &args);
    assert!(run.status.success(), "{}", run.stderr);
    let records = read_records(&dir.path().join("crawl.jsonl"));
    let by_path = |path: &str| -> &Value {
        let url = site.url(path);
        records
            .iter()
            .find(|record| record["url"] == url.as_str())
            .unwrap_or_else(|| panic!("no record for {path}"))
    };
    assert_eq!(
        by_path("/fault/product?id=1")["fields"],
        json!({
            "name": "Steel Kettle 1",
            "price": "€ 14.90",
            "currency": "EUR",
            "sku": "K-1",
            "tags": ["kitchen", "steel & glass"],
            "images": ["/img/1-a.jpg", "/img/1-b.jpg"],
            "emphasis": "<em>Kettle</em>",
            "text": "€ 14.90",
        })
    );
    // The next product, found by link, has its own values.
    assert_eq!(by_path("/fault/product?id=2")["fields"]["sku"], "K-2");
    // Pages in other encodings are decoded before selecting; a page without
    // the elements has nulls and empty lists.
    let latin1 = &by_path("/fault/latin1?declared=meta")["fields"];
    assert_eq!(
        latin1["text"],
        "Crème brûlée, déjà vu, naïve façade, señor año, garçon."
    );
    assert_eq!(latin1["name"], Value::Null);
    assert_eq!(latin1["tags"], json!([]));
    assert_eq!(
        by_path("/fault/sjis?declared=header")["fields"]["name"],
        Value::Null
    );
    assert!(by_path("/fault/sjis?declared=header")["fields"]["text"].is_string());
    // Records of pages that are not HTML have no fields.
    let not_html = records
        .iter()
        .find(|record| record["content_type"] != "text/html");
    if let Some(record) = not_html {
        assert!(record.get("fields").is_none(), "{record}");
    }
    // The schema knows the field.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/record.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for record in &records {
        assert!(validator.is_valid(record), "{record} violates the schema");
    }
}

#[test]
fn a_bad_field_stops_before_any_request() {
    let site = Site::start(SiteConfig::default());
    let dir = workdir();
    write_seeds(dir.path(), &[&site.url("/")]);
    let run = trawl(
        dir.path(),
        &[
            "crawl",
            "seeds.txt",
            "--quiet",
            "--field",
            "price=div[::text",
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("--field `price=div[::text`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("invalid CSS selector"),
        "{}",
        run.stderr
    );
    assert!(site.site.requests().is_empty(), "no request was made");
}
