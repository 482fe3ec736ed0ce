//! Which URLs belong to the crawl: the seeds' hosts (or domains, or any
//! host), narrowed by the user's include and exclude patterns.

use std::collections::HashSet;

use regex::Regex;
use url::Url;

/// How far from its seeds a crawl may wander.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeMode {
    /// Only the exact host names of the seeds (any port, either scheme).
    #[default]
    Host,
    /// The seeds' host names and their subdomains; a leading `www.` of a
    /// seed is dropped first, so `www.example.com` admits `blog.example.com`.
    Domain,
    /// Every http(s) URL.
    Any,
}

/// The crawl's scope: built once from the seeds and the user's patterns.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    mode: ScopeMode,
    /// A set, not a list: every discovered link is checked against it, and
    /// a crawl may have tens of thousands of seed hosts.
    hosts: HashSet<String>,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl Scope {
    /// A scope in `mode` with include/exclude patterns matched against the
    /// canonical URL text. Seeds are added with [`Scope::add_seed`].
    pub fn new(mode: ScopeMode, include: Vec<Regex>, exclude: Vec<Regex>) -> Self {
        Scope {
            mode,
            hosts: HashSet::new(),
            include,
            exclude,
        }
    }

    /// Widens the scope to cover `seed`'s host (or domain).
    pub fn add_seed(&mut self, seed: &Url) {
        let Some(host) = seed.host_str() else { return };
        let host = match self.mode {
            ScopeMode::Domain => host.strip_prefix("www.").unwrap_or(host),
            _ => host,
        };
        if !self.hosts.contains(host) {
            self.hosts.insert(host.to_owned());
        }
    }

    /// True when the host part of `url` is inside the scope (patterns are
    /// not consulted: a redirect hop is checked with this alone).
    pub fn host_allowed(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        match self.mode {
            ScopeMode::Any => true,
            ScopeMode::Host => self.hosts.contains(host),
            // The host itself or any parent domain of it: one lookup per
            // label, however many seeds there are.
            ScopeMode::Domain => {
                let mut rest = host;
                loop {
                    if self.hosts.contains(rest) {
                        return true;
                    }
                    match rest.split_once('.') {
                        Some((_, parent)) if !parent.is_empty() => rest = parent,
                        _ => return false,
                    }
                }
            }
        }
    }

    /// True when the canonical URL passes the include and exclude patterns.
    pub fn patterns_allow(&self, canonical: &Url) -> bool {
        let text = canonical.as_str();
        (self.include.is_empty() || self.include.iter().any(|re| re.is_match(text)))
            && !self.exclude.iter().any(|re| re.is_match(text))
    }

    /// Host and patterns together: may a discovered link be queued?
    pub fn allows(&self, canonical: &Url) -> bool {
        self.host_allowed(canonical) && self.patterns_allow(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn scope(mode: ScopeMode, seeds: &[&str]) -> Scope {
        let mut scope = Scope::new(mode, Vec::new(), Vec::new());
        for seed in seeds {
            scope.add_seed(&url(seed));
        }
        scope
    }

    #[test]
    fn host_scope_admits_only_seed_hosts_on_any_port_or_scheme() {
        let scope = scope(
            ScopeMode::Host,
            &["http://www.example.com/", "http://b.example/"],
        );
        assert!(scope.allows(&url("https://www.example.com/x")));
        assert!(scope.allows(&url("http://www.example.com:8080/x")));
        assert!(scope.allows(&url("http://b.example/y")));
        assert!(!scope.allows(&url("http://blog.example.com/")));
        assert!(!scope.allows(&url("http://example.com/")));
    }

    #[test]
    fn domain_scope_admits_subdomains_but_not_lookalikes() {
        let scope = scope(ScopeMode::Domain, &["http://www.example.com/"]);
        assert!(scope.allows(&url("http://example.com/")));
        assert!(scope.allows(&url("http://blog.example.com/")));
        assert!(scope.allows(&url("http://a.b.example.com/")));
        assert!(!scope.allows(&url("http://badexample.com/")));
        assert!(!scope.allows(&url("http://example.com.evil.example/")));
    }

    #[test]
    fn many_seed_hosts_are_each_in_scope() {
        let seeds: Vec<String> = (0..1000).map(|i| format!("http://h{i}.test/")).collect();
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        for mode in [ScopeMode::Host, ScopeMode::Domain] {
            let scope = scope(mode, &seeds);
            assert!(scope.allows(&url("http://h0.test/a")), "{mode:?}");
            assert!(scope.allows(&url("http://h999.test:8080/b")), "{mode:?}");
            assert!(!scope.allows(&url("http://h1000.test/")), "{mode:?}");
            assert!(!scope.allows(&url("http://test/")), "{mode:?}");
        }
        let domain = scope(ScopeMode::Domain, &seeds);
        assert!(domain.allows(&url("http://www.h5.test/")));
        assert!(!domain.allows(&url("http://xh5.test/")));
    }

    #[test]
    fn any_scope_admits_everything() {
        let scope = scope(ScopeMode::Any, &["http://a.example/"]);
        assert!(scope.allows(&url("http://elsewhere.example/")));
    }

    #[test]
    fn include_and_exclude_patterns() {
        let mut scope = Scope::new(
            ScopeMode::Any,
            vec![Regex::new("/docs/").unwrap(), Regex::new("/blog/").unwrap()],
            vec![Regex::new(r"\.pdf$").unwrap()],
        );
        scope.add_seed(&url("http://a.example/"));
        assert!(scope.allows(&url("http://a.example/docs/x")));
        assert!(scope.allows(&url("http://a.example/blog/y")));
        assert!(!scope.allows(&url("http://a.example/shop/")));
        assert!(!scope.allows(&url("http://a.example/docs/x.pdf")));
    }
}
