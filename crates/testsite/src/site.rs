//! The synthetic site: a deterministic link graph, its ground truth, and
//! the pre-rendered pages.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::{PageProfile, SiteConfig};

/// splitmix64: tiny, fast, and the same on every platform, so a seed is a
/// site forever.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

/// Pages whose index is a multiple of this are never linked: the site has
/// pages a crawler must not find.
pub(crate) const UNLINKED_EVERY: usize = 97;

pub(crate) fn is_unlinked(page: usize) -> bool {
    page > 0 && page.is_multiple_of(UNLINKED_EVERY)
}

/// The link graph: `links[i]` are the pages page `i` links to.
#[derive(Debug)]
pub(crate) struct Graph {
    pub(crate) links: Vec<Vec<usize>>,
}

impl Graph {
    pub(crate) fn generate(pages: usize, links_per_page: usize, seed: u64) -> Graph {
        let pages = pages.max(1);
        let links = (0..pages)
            .map(|page| {
                let mut rng =
                    SplitMix64::new(seed ^ (page as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
                let mut targets = Vec::with_capacity(links_per_page + 1);
                if page + 1 < pages && !is_unlinked(page + 1) {
                    targets.push(page + 1);
                }
                for _ in 0..links_per_page {
                    if pages < 2 {
                        break;
                    }
                    let target = 1 + rng.below(pages as u64 - 1) as usize;
                    if !is_unlinked(target) {
                        targets.push(target);
                    }
                }
                targets
            })
            .collect();
        Graph { links }
    }

    /// Breadth-first depth of every page reachable from page 0.
    pub(crate) fn depths(&self) -> BTreeMap<usize, u32> {
        let mut depth = vec![u32::MAX; self.links.len()];
        let mut queue = VecDeque::from([0usize]);
        depth[0] = 0;
        while let Some(page) = queue.pop_front() {
            for &target in &self.links[page] {
                if depth[target] == u32::MAX {
                    depth[target] = depth[page] + 1;
                    queue.push_back(target);
                }
            }
        }
        depth
            .into_iter()
            .enumerate()
            .filter(|&(_, d)| d != u32::MAX)
            .collect()
    }
}

/// Adds the realistic profile's nav links to every page (so the ground
/// truth has them).
pub(crate) fn add_nav(graph: &mut Graph) {
    let pages = graph.links.len();
    for links in &mut graph.links {
        links.extend(crate::realistic::nav_targets(pages));
    }
}

/// The graph `config` describes, nav links included in the realistic
/// profile.
pub(crate) fn graph_for(config: &SiteConfig) -> Graph {
    let mut graph = Graph::generate(config.pages, config.links_per_page, config.seed);
    if config.profile == PageProfile::Realistic {
        add_nav(&mut graph);
    }
    graph
}

/// Renders `page` as `config`'s profile says.
pub(crate) fn render_page(graph: &Graph, page: usize, base: &str, config: &SiteConfig) -> Bytes {
    match config.profile {
        PageProfile::Uniform => render(graph, page, base, config.page_bytes),
        PageProfile::Realistic => crate::realistic::render(graph, page, base, config.seed),
    }
}

pub(crate) fn page_path(page: usize) -> String {
    if page == 0 {
        "/".to_owned()
    } else {
        format!("/p/{page}")
    }
}

/// Writes a link to `target` from `from` in one of five spellings that all
/// canonicalise to the same URL, so the crawler's dedup is exercised.
fn spelling(from: usize, target: usize, base: &str) -> String {
    if target == 0 {
        return if from.is_multiple_of(2) {
            "/".to_owned()
        } else {
            format!("{base}/#home")
        };
    }
    match (from + target) % 5 {
        0 => format!("/p/{target}"),
        1 => format!("{base}/p/{target}"),
        2 => format!("/p/{target}#top"),
        3 => format!("/x/../p/{target}"),
        _ if from == 0 => format!("p/{target}"),
        _ => format!("{target}"),
    }
}

const FILLER: &str =
    "The quick brown fox jumps over the lazy dog while the crawler counts every link it meets. ";

pub(crate) fn render(graph: &Graph, page: usize, base: &str, page_bytes: usize) -> Bytes {
    let mut html = String::with_capacity(page_bytes + 512);
    html.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Page ");
    html.push_str(&page.to_string());
    html.push_str("</title></head>\n<body>\n<h1>Page ");
    html.push_str(&page.to_string());
    html.push_str("</h1>\n<ul>\n");
    for &target in &graph.links[page] {
        html.push_str("<li><a href=\"");
        html.push_str(&spelling(page, target, base));
        html.push_str("\">page ");
        html.push_str(&target.to_string());
        html.push_str("</a></li>\n");
    }
    html.push_str(
        "</ul>\n<p><a href=\"mailto:a@example.invalid\">mail</a> <a href=\"javascript:void(0)\">js</a> \
         <a href=\"tel:+1\">call</a> <a href=\"http://outside.invalid/p/1\">elsewhere</a></p>\n<p>",
    );
    while html.len() + FILLER.len() + 20 < page_bytes {
        html.push_str(FILLER);
    }
    html.push_str("</p>\n</body></html>\n");
    Bytes::from(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphs_are_deterministic_and_skip_unlinked_pages() {
        let a = Graph::generate(500, 5, 42);
        let b = Graph::generate(500, 5, 42);
        assert_eq!(a.links, b.links);
        assert!(a.links.iter().flatten().all(|&t| !is_unlinked(t)));
        let depths = a.depths();
        assert!(!depths.contains_key(&97));
        assert!(depths.len() > 400);
        assert_ne!(Graph::generate(500, 5, 43).links, a.links);
    }

    #[test]
    fn pages_reach_the_requested_size() {
        let graph = Graph::generate(10, 3, 1);
        let page = render(&graph, 3, "http://127.0.0.1:1", 20_000);
        assert!(page.len() > 19_000 && page.len() < 21_000, "{}", page.len());
    }
}
