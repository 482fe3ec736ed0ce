//! Shrinks a page on which the streaming and reference extractors differ
//! to a small one that still shows the difference (a debugging aid).
//! `cargo run -p trawl-extractor --example diffcheck -- 'HTML'...`
use trawl_extractor::{Parser, extract_reference, extract_with};
use url::Url;

fn differs(html: &str, url: &Url) -> bool {
    let (fast, _) = extract_with(html.as_bytes(), url, None, Parser::Streaming);
    fast != extract_reference(html.as_bytes(), url, None)
}

#[allow(clippy::print_stdout)] // An interactive debugging aid: its output is the point.
fn main() {
    let url = Url::parse("http://h.example/dir/page.html").expect("valid URL");
    for html in std::env::args().skip(1) {
        if !differs(&html, &url) {
            println!("same: {html:?}");
            continue;
        }
        // Greedy shrinking: drop pieces (split before each '<') while the
        // difference stays.
        let mut pieces: Vec<String> = Vec::new();
        for (index, part) in html.split('<').enumerate() {
            if index == 0 {
                pieces.push(part.to_owned());
            } else {
                pieces.push(format!("<{part}"));
            }
        }
        let mut changed = true;
        while changed {
            changed = false;
            let mut index = 0;
            while index < pieces.len() {
                let mut candidate = pieces.clone();
                candidate.remove(index);
                if differs(&candidate.concat(), &url) {
                    pieces = candidate;
                    changed = true;
                } else {
                    index += 1;
                }
            }
        }
        let small = pieces.concat();
        let (fast, parser) = extract_with(small.as_bytes(), &url, None, Parser::Streaming);
        let reference = extract_reference(small.as_bytes(), &url, None);
        println!("differs: {small:?}\n  {parser:?}: {fast:?}\n  reference: {reference:?}");
    }
}
