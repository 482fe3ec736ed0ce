//! The network policy inside the client: checked on the addresses a name
//! resolves to, at connect time, by the client's own resolver (so a name
//! that resolves somewhere else the second time is checked the second
//! time too), and on IP-literal URLs before the request, since those never
//! reach a resolver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::netpolicy::{AddressClass, Blocked, ClassSet, NetworkPolicy, classify_address};

/// Seed hosts resolved at once while learning their classes.
const SEED_LOOKUPS_AT_ONCE: usize = 16;

/// The policy as configured plus the classes learnt from the seeds.
#[derive(Debug)]
pub(crate) struct Guard {
    policy: NetworkPolicy,
    learnt: AtomicU32,
}

impl Guard {
    pub(crate) fn new(policy: NetworkPolicy) -> Guard {
        Guard {
            policy,
            learnt: AtomicU32::new(0),
        }
    }

    fn learnt(&self) -> ClassSet {
        ClassSet::from_bits(self.learnt.load(Ordering::Acquire))
    }

    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        self.policy.check_with(ip, self.learnt())
    }

    /// Allows `classes` too, from now on.
    pub(crate) fn learn(&self, classes: ClassSet) {
        self.learnt.fetch_or(classes.bits(), Ordering::AcqRel);
    }

    /// The policy in force: the configured one with the learnt classes.
    pub(crate) fn effective(&self) -> NetworkPolicy {
        self.learnt()
            .iter()
            .fold(self.policy.clone(), NetworkPolicy::allow_class)
    }
}

/// The address of an IP-literal URL, which the client connects to without
/// asking a resolver.
pub(crate) fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        // The URL parser turns every IPv4 spelling into Host::Ipv4; this
        // is for a domain the connector would still read as an address.
        Host::Domain(name) => name.parse().ok(),
    }
}

/// A host every address of which the policy blocks: the resolver's error,
/// which the fetch turns into a `blocked_address` record.
#[derive(Debug)]
pub(crate) struct BlockedHost {
    host: String,
    first: Blocked,
    others: usize,
}

impl std::fmt::Display for BlockedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {}, blocked by the network policy: {}",
            self.host, self.first.addr, self.first.reason
        )?;
        if self.others > 0 {
            write!(f, " (and {} more blocked addresses)", self.others)?;
        }
        Ok(())
    }
}

impl std::error::Error for BlockedHost {}

/// The client's resolver: `--resolve` overrides first, then the system's
/// resolver; every address is filtered through the policy. Addresses the
/// policy blocks are dropped; when none is left, the lookup fails with
/// [`BlockedHost`] and no connection is attempted.
#[derive(Debug)]
pub(crate) struct PolicyResolver {
    guard: Arc<Guard>,
    overrides: Arc<HashMap<String, Vec<SocketAddr>>>,
    /// Names connected to whatever they resolve to: the proxies the user
    /// named.
    trusted: Arc<Vec<String>>,
}

impl PolicyResolver {
    pub(crate) fn new(guard: Arc<Guard>, overrides: &[(String, SocketAddr)]) -> PolicyResolver {
        let mut map: HashMap<String, Vec<SocketAddr>> = HashMap::new();
        for (host, addr) in overrides {
            map.entry(host.to_ascii_lowercase())
                .or_default()
                .push(*addr);
        }
        PolicyResolver {
            guard,
            overrides: Arc::new(map),
            trusted: Arc::new(Vec::new()),
        }
    }

    /// Lets `names` resolve to any address (lower-case host names).
    pub(crate) fn trusting(mut self, names: Vec<String>) -> PolicyResolver {
        self.trusted = Arc::new(names);
        self
    }

    /// The addresses of `host`, unfiltered: the override, or a system
    /// lookup (port 0: the connector puts in the URL's port).
    async fn lookup(
        overrides: &HashMap<String, Vec<SocketAddr>>,
        host: &str,
    ) -> std::io::Result<Vec<SocketAddr>> {
        match overrides.get(&host.to_ascii_lowercase()) {
            Some(addrs) => Ok(addrs.clone()),
            None => Ok(tokio::net::lookup_host((host, 0)).await?.collect()),
        }
    }

    /// Learns the classes of the seeds' hosts (their `--resolve` override
    /// or their DNS answer), link-local excepted, into the guard. A host
    /// that does not resolve within `timeout` adds nothing.
    pub(crate) async fn learn_seed_classes<'u>(
        &self,
        seeds: impl IntoIterator<Item = &'u Url>,
        timeout: Duration,
    ) -> ClassSet {
        let mut classes = ClassSet::EMPTY;
        // A set: a crawl may have tens of thousands of seed hosts.
        let mut names = std::collections::HashSet::new();
        for seed in seeds {
            if let Some(ip) = literal_ip(seed) {
                classes.insert(classify_address(ip));
            } else if let Some(host) = seed.host_str() {
                names.insert(host.to_ascii_lowercase());
            }
        }
        let mut lookups = tokio::task::JoinSet::new();
        let mut names = names.into_iter();
        loop {
            while lookups.len() < SEED_LOOKUPS_AT_ONCE
                && let Some(host) = names.next()
            {
                let overrides = Arc::clone(&self.overrides);
                lookups.spawn(async move {
                    tokio::time::timeout(timeout, PolicyResolver::lookup(&overrides, &host))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default()
                });
            }
            let Some(done) = lookups.join_next().await else {
                break;
            };
            for addr in done.unwrap_or_default() {
                classes.insert(classify_address(addr.ip()));
            }
        }
        let learnt: ClassSet = classes
            .iter()
            .filter(|class| !matches!(class, AddressClass::Public | AddressClass::LinkLocal))
            .collect();
        self.guard.learn(learnt);
        learnt
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = Arc::clone(&self.guard);
        let overrides = Arc::clone(&self.overrides);
        let host = name.as_str().to_ascii_lowercase();
        let trusted = self.trusted.contains(&host);
        Box::pin(async move {
            let addrs = PolicyResolver::lookup(&overrides, &host).await?;
            if trusted {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let mut first = None;
            let mut others = 0;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|addr| match guard.check(addr.ip()) {
                    Ok(()) => true,
                    Err(blocked) => {
                        if first.is_none() {
                            first = Some(blocked);
                        } else {
                            others += 1;
                        }
                        false
                    }
                })
                .collect();
            if allowed.is_empty()
                && let Some(first) = first
            {
                return Err(Box::new(BlockedHost {
                    host,
                    first,
                    others,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(policy: NetworkPolicy, overrides: &[(&str, &str)]) -> PolicyResolver {
        let overrides: Vec<(String, SocketAddr)> = overrides
            .iter()
            .map(|(host, addr)| ((*host).to_owned(), addr.parse().expect("test address")))
            .collect();
        PolicyResolver::new(Arc::new(Guard::new(policy)), &overrides)
    }

    async fn resolve(resolver: &PolicyResolver, host: &str) -> Result<Vec<SocketAddr>, String> {
        let name: Name = host.parse().expect("test name");
        match resolver.resolve(name).await {
            Ok(addrs) => Ok(addrs.collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    #[tokio::test]
    async fn overrides_are_filtered_through_the_policy() {
        let resolver = resolver(
            NetworkPolicy::default().allow_class(AddressClass::Loopback),
            &[
                ("mixed.test", "127.0.0.1:80"),
                ("mixed.test", "169.254.169.254:80"),
                ("meta.test", "169.254.169.254:80"),
                ("meta.test", "10.0.0.1:80"),
            ],
        );
        assert_eq!(
            resolve(&resolver, "mixed.test").await,
            Ok(vec!["127.0.0.1:80".parse().unwrap()])
        );
        let error = resolve(&resolver, "META.test").await.expect_err("blocked");
        assert!(
            error.starts_with("meta.test resolves to 169.254.169.254, blocked by the network policy: it is a link-local"),
            "{error}"
        );
        assert!(error.contains("and 1 more blocked"), "{error}");
    }

    #[tokio::test]
    async fn seed_classes_come_from_literals_and_overrides_but_never_link_local() {
        let resolver = resolver(
            NetworkPolicy::default(),
            &[
                ("intranet.test", "10.1.1.1:80"),
                ("meta.test", "169.254.169.254:80"),
            ],
        );
        let seeds: Vec<Url> = [
            "http://127.0.0.1:9/",
            "http://intranet.test/",
            "http://meta.test/",
            "http://[fe80::1]/",
        ]
        .iter()
        .map(|s| Url::parse(s).unwrap())
        .collect();
        let learnt = resolver
            .learn_seed_classes(&seeds, Duration::from_secs(5))
            .await;
        assert_eq!(
            learnt,
            [AddressClass::Loopback, AddressClass::Private]
                .into_iter()
                .collect()
        );
        assert_eq!(resolver.guard.check("10.2.2.2".parse().unwrap()), Ok(()));
        assert!(
            resolver
                .guard
                .check("169.254.169.254".parse().unwrap())
                .is_err()
        );
        assert!(resolver.guard.check("fe80::1".parse().unwrap()).is_err());
        assert!(
            resolver
                .guard
                .effective()
                .classes()
                .contains(AddressClass::Loopback)
        );
    }

    #[test]
    fn literal_addresses_are_recognised() {
        let ip = |s: &str| literal_ip(&Url::parse(s).unwrap());
        assert_eq!(
            ip("http://127.0.0.1:80/"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(ip("http://2130706433/"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(ip("http://0x7f.1/"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(
            ip("http://[::ffff:169.254.169.254]/"),
            Some("::ffff:a9fe:a9fe".parse().unwrap())
        );
        assert_eq!(ip("http://example.test/"), None);
    }
}
