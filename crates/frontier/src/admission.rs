//! The admission checks that need nothing but the URL and the crawl's
//! configuration: scope, depth and trap guards. Every store runs them
//! before it dedups; dedup and the page limits need the crawl's global
//! counts and so stay with the store.

use std::collections::HashMap;

use crate::canon::CanonicalUrl;
use crate::entry::{Admission, Entry, Limits};
use crate::scope::Scope;
use crate::store::Found;

/// Scope, `max_depth` and the repeated-segment trap guard, as one pure
/// check.
#[derive(Debug, Clone)]
pub struct AdmissionRules {
    scope: Scope,
    max_depth: u32,
    max_repeated_segments: usize,
}

impl AdmissionRules {
    /// The rules of a crawl over `scope` (its seeds already added) with
    /// `limits`.
    pub fn new(scope: Scope, limits: &Limits) -> Self {
        AdmissionRules {
            scope,
            max_depth: limits.max_depth,
            max_repeated_segments: limits.max_repeated_segments,
        }
    }

    /// The scope the rules apply.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// `Ok` when `entry` may go on to dedup and the page limits, else the
    /// reason it may not. Seeds pass unchecked: the user named them.
    pub fn check(&self, entry: &Entry, found: Found) -> Result<(), Admission> {
        if found == Found::Seed {
            return Ok(());
        }
        if entry.depth > self.max_depth {
            return Err(Admission::TooDeep);
        }
        if !self.scope.allows(&entry.url) {
            return Err(Admission::OutOfScope);
        }
        if repeats_a_segment(entry.url.path(), self.max_repeated_segments) {
            return Err(Admission::Trap);
        }
        Ok(())
    }

    /// May a redirect go to `target`? Only its host is checked: patterns
    /// judge links, and a redirect hop is where the server sent us.
    pub fn redirect_allowed(&self, target: &CanonicalUrl) -> bool {
        self.scope.host_allowed(target)
    }
}

/// True when one path segment occurs more than `limit` times.
fn repeats_a_segment(path: &str, limit: usize) -> bool {
    // Cheap exit for the common short path, before any allocation.
    if path.bytes().filter(|&b| b == b'/').count() <= limit {
        return false;
    }
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    if segments.len() <= limit {
        return false;
    }
    let mut counts: HashMap<&str, usize> = HashMap::with_capacity(segments.len());
    segments.iter().any(|segment| {
        let count = counts.entry(segment).or_default();
        *count += 1;
        *count > limit
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeMode;
    use regex::Regex;
    use std::sync::Arc;

    fn rules(limits: &Limits, include: Vec<Regex>) -> AdmissionRules {
        let mut scope = Scope::new(ScopeMode::Host, include, Vec::new());
        scope.add_seed(&url::Url::parse("http://a.example/").unwrap());
        AdmissionRules::new(scope, limits)
    }

    fn link(text: &str, depth: u32) -> Entry {
        Entry::link(
            CanonicalUrl::parse(text).unwrap(),
            depth,
            &Arc::from("http://a.example/"),
        )
    }

    #[test]
    fn scope_depth_and_traps_are_checked_for_links() {
        let limits = Limits {
            max_depth: 1,
            max_repeated_segments: 2,
            ..Limits::default()
        };
        let rules = rules(&limits, Vec::new());
        let check = |text, depth| rules.check(&link(text, depth), Found::Link);
        assert_eq!(check("http://b.example/", 1), Err(Admission::OutOfScope));
        assert_eq!(check("http://a.example/deep", 2), Err(Admission::TooDeep));
        assert_eq!(check("http://a.example/a/b/a/b/", 1), Ok(()));
        assert_eq!(
            check("http://a.example/a/b/a/b/a/", 1),
            Err(Admission::Trap)
        );
        assert_eq!(
            check("http://a.example/next/next/next/", 1),
            Err(Admission::Trap)
        );
        assert_eq!(check("http://a.example/ok", 1), Ok(()));
    }

    #[test]
    fn seeds_skip_patterns_and_redirects_check_only_the_host() {
        let rules = rules(&Limits::default(), vec![Regex::new("/docs/").unwrap()]);
        let seed = Entry::seed(CanonicalUrl::parse("http://a.example/").unwrap());
        assert_eq!(rules.check(&seed, Found::Seed), Ok(()));
        assert_eq!(
            rules.check(&link("http://a.example/", 1), Found::Link),
            Err(Admission::OutOfScope)
        );
        assert!(rules.redirect_allowed(&CanonicalUrl::parse("http://a.example/shop").unwrap()));
        assert!(!rules.redirect_allowed(&CanonicalUrl::parse("http://b.example/docs/").unwrap()));
    }
}
