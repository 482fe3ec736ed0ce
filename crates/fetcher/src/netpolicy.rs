//! Which addresses the crawler may connect to: a guard against a public
//! page (or a redirect, or a DNS name) steering requests at cloud metadata,
//! the machine itself or the local network.
//!
//! [`classify_address`] sorts an address into an [`AddressClass`], a pure function.
//! [`NetworkPolicy::check`] applies the rules, in this order:
//!
//! 1. an address in a **deny** range is blocked, whatever else says;
//! 2. an address in an **allow** range is allowed, whatever its class;
//! 3. a [`AddressClass::Public`] address is allowed;
//! 4. an address of a class the policy allows (the classes the seeds
//!    resolve into: [`NetworkPolicy::allow_class`]) is allowed;
//! 5. anything else is blocked.
//!
//! IPv6 addresses that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
//! IPv4-translated, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and
//! 6to4 `2002::/16`) are classified by that IPv4 address, and the allow and
//! deny ranges match either form.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::IpNet;

/// What kind of network an address belongs to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally routable: allowed unless denied.
    Public,
    /// `127.0.0.0/8`, `::1`: this machine.
    Loopback,
    /// RFC 1918: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`; and the
    /// local-use NAT64 prefix `64:ff9b:1::/48`.
    Private,
    /// `fc00::/7` (and the deprecated site-local `fec0::/10`).
    UniqueLocal,
    /// `169.254.0.0/16`, `fe80::/10`: the link, where cloud metadata
    /// services answer (`169.254.169.254`). Never allowed by a seed.
    LinkLocal,
    /// `100.64.0.0/10`: carrier-grade NAT.
    SharedAddress,
    /// `0.0.0.0/8` and `::` ("this network"; Linux connects 0.0.0.0 to
    /// the machine itself).
    Unspecified,
    /// `192.0.0.0/24` and `2001::/23`: IETF protocol assignments.
    ProtocolAssignment,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`,
    /// `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// `240.0.0.0/4`, the old 6to4 relay `192.88.99.0/24`, the discard
    /// prefix `100::/64`, and IPv6 outside `2000::/3` not named above.
    Reserved,
    /// `255.255.255.255`.
    Broadcast,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
}

impl AddressClass {
    /// Every class, in documentation order.
    pub const ALL: &'static [AddressClass] = &[
        AddressClass::Public,
        AddressClass::Loopback,
        AddressClass::Private,
        AddressClass::UniqueLocal,
        AddressClass::LinkLocal,
        AddressClass::SharedAddress,
        AddressClass::Unspecified,
        AddressClass::ProtocolAssignment,
        AddressClass::Documentation,
        AddressClass::Benchmarking,
        AddressClass::Reserved,
        AddressClass::Broadcast,
        AddressClass::Multicast,
    ];

    /// A stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::UniqueLocal => "unique_local",
            AddressClass::LinkLocal => "link_local",
            AddressClass::SharedAddress => "shared_address",
            AddressClass::Unspecified => "unspecified",
            AddressClass::ProtocolAssignment => "protocol_assignment",
            AddressClass::Documentation => "documentation",
            AddressClass::Benchmarking => "benchmarking",
            AddressClass::Reserved => "reserved",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Multicast => "multicast",
        }
    }

    /// Words for people, as a message names the class.
    fn describe(&self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private (RFC 1918) address",
            AddressClass::UniqueLocal => "a unique-local IPv6 address",
            AddressClass::LinkLocal => {
                "a link-local address (where cloud metadata services answer)"
            }
            AddressClass::SharedAddress => "a carrier-grade NAT address (100.64.0.0/10)",
            AddressClass::Unspecified => "an unspecified or this-network address",
            AddressClass::ProtocolAssignment => "an IETF protocol-assignment address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::Benchmarking => "a benchmarking address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Multicast => "a multicast address",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`AddressClass`]es, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClassSet(u32);

impl ClassSet {
    /// No class.
    pub const EMPTY: ClassSet = ClassSet(0);

    pub fn contains(self, class: AddressClass) -> bool {
        self.0 & class.bit() != 0
    }

    pub fn insert(&mut self, class: AddressClass) {
        self.0 |= class.bit();
    }

    /// Both sets together.
    pub fn union(self, other: ClassSet) -> ClassSet {
        ClassSet(self.0 | other.0)
    }

    /// The classes in the set, in documentation order.
    pub fn iter(self) -> impl Iterator<Item = AddressClass> {
        AddressClass::ALL
            .iter()
            .copied()
            .filter(move |class| self.contains(*class))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn bits(self) -> u32 {
        self.0
    }

    pub(crate) fn from_bits(bits: u32) -> ClassSet {
        ClassSet(bits)
    }
}

impl FromIterator<AddressClass> for ClassSet {
    fn from_iter<I: IntoIterator<Item = AddressClass>>(iter: I) -> ClassSet {
        let mut set = ClassSet::EMPTY;
        for class in iter {
            set.insert(class);
        }
        set
    }
}

/// The class of an address. IPv6 forms that embed an IPv4 address take
/// that address's class.
pub fn classify_address(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    const TABLE: &[([u8; 4], u32, AddressClass)] = &[
        ([0, 0, 0, 0], 8, AddressClass::Unspecified),
        ([10, 0, 0, 0], 8, AddressClass::Private),
        ([100, 64, 0, 0], 10, AddressClass::SharedAddress),
        ([127, 0, 0, 0], 8, AddressClass::Loopback),
        ([169, 254, 0, 0], 16, AddressClass::LinkLocal),
        ([172, 16, 0, 0], 12, AddressClass::Private),
        ([192, 0, 0, 0], 24, AddressClass::ProtocolAssignment),
        ([192, 0, 2, 0], 24, AddressClass::Documentation),
        ([192, 88, 99, 0], 24, AddressClass::Reserved),
        ([192, 168, 0, 0], 16, AddressClass::Private),
        ([198, 18, 0, 0], 15, AddressClass::Benchmarking),
        ([198, 51, 100, 0], 24, AddressClass::Documentation),
        ([203, 0, 113, 0], 24, AddressClass::Documentation),
        ([224, 0, 0, 0], 4, AddressClass::Multicast),
        ([255, 255, 255, 255], 32, AddressClass::Broadcast),
        ([240, 0, 0, 0], 4, AddressClass::Reserved),
    ];
    TABLE
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map_or(AddressClass::Public, |(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    // Most specific first: 2001:2::/48 and 2001:db8::/32 sit inside
    // 2001::/23 or next to it.
    const TABLE: &[([u16; 8], u32, AddressClass)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, AddressClass::Unspecified),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, AddressClass::Loopback),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, AddressClass::Private),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, AddressClass::Reserved),
        (
            [0x2001, 2, 0, 0, 0, 0, 0, 0],
            48,
            AddressClass::Benchmarking,
        ),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            AddressClass::Documentation,
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            AddressClass::ProtocolAssignment,
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            AddressClass::Documentation,
        ),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, AddressClass::UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, AddressClass::LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, AddressClass::UniqueLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, AddressClass::Multicast),
        // Global unicast; everything else is unassigned or special.
        ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, AddressClass::Public),
    ];
    TABLE
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map_or(AddressClass::Reserved, |(_, _, class)| *class)
}

/// The IPv4 address an IPv6 address stands for, if it is one of the forms
/// that carry one: IPv4-mapped (`::ffff:0:0/96`), IPv4-translated
/// (`::ffff:0:0:0/96`), IPv4-compatible (`::/96`, except `::` and `::1`),
/// NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`, bits 16 to 47).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from(bits as u32);
    let mapped = [
        [0, 0, 0, 0, 0, 0xffff, 0, 0],
        [0, 0, 0, 0, 0xffff, 0, 0, 0],
        [0x64, 0xff9b, 0, 0, 0, 0, 0, 0],
    ];
    if mapped.iter().any(|net| in_v6(ip, *net, 96)) {
        return Some(low);
    }
    if in_v6(ip, [0; 8], 96) && bits > 1 {
        return Some(low);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    None
}

/// The rules: classes allowed beyond public ones, allow and deny ranges.
///
/// [`NetworkPolicy::default`] is the strict policy: public addresses only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    classes: ClassSet,
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl NetworkPolicy {
    /// Also allows addresses of `class` (what a seed resolving into it
    /// does; seeds never add [`AddressClass::LinkLocal`], but a caller may).
    pub fn allow_class(mut self, class: AddressClass) -> NetworkPolicy {
        self.classes.insert(class);
        self
    }

    /// Also allows every address in `net`, whatever its class, unless a
    /// deny range holds it too.
    pub fn allow(mut self, net: IpNet) -> NetworkPolicy {
        self.allow.push(net.trunc());
        self
    }

    /// Blocks every address in `net`; beats every allow.
    pub fn deny(mut self, net: IpNet) -> NetworkPolicy {
        self.deny.push(net.trunc());
        self
    }

    /// The classes allowed beyond public addresses.
    pub fn classes(&self) -> ClassSet {
        self.classes
    }

    pub fn allow_ranges(&self) -> &[IpNet] {
        &self.allow
    }

    pub fn deny_ranges(&self) -> &[IpNet] {
        &self.deny
    }

    /// May the crawler connect to `ip`?
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        self.check_with(ip, ClassSet::EMPTY)
    }

    /// [`NetworkPolicy::check`] with `extra` classes allowed too.
    pub(crate) fn check_with(&self, ip: IpAddr, extra: ClassSet) -> Result<(), Blocked> {
        let v4 = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let holds = |net: &IpNet| net.contains(&ip) || v4.is_some_and(|v4| net.contains(&v4));
        if let Some(net) = self.deny.iter().find(|net| holds(net)) {
            return Err(Blocked {
                addr: ip,
                reason: BlockReason::Denied(*net),
            });
        }
        if self.allow.iter().any(holds) {
            return Ok(());
        }
        let class = classify_address(ip);
        if class == AddressClass::Public || self.classes.union(extra).contains(class) {
            return Ok(());
        }
        Err(Blocked {
            addr: ip,
            reason: BlockReason::Class(class),
        })
    }
}

/// An address the policy does not allow, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub addr: IpAddr,
    pub reason: BlockReason,
}

/// Why an address is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// It lies in this deny range.
    Denied(IpNet),
    /// Its class is not allowed (no seed resolves into it, no allow range
    /// holds it).
    Class(AddressClass),
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "address {} is blocked by the network policy: {}",
            self.addr, self.reason
        )
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockReason::Denied(net) => write!(f, "it is in the denied range {net}"),
            BlockReason::Class(AddressClass::LinkLocal) => write!(
                f,
                "it is {}, reached only through an explicit allow range",
                AddressClass::LinkLocal.describe()
            ),
            BlockReason::Class(class) => write!(
                f,
                "it is {}, and no seed resolves to one and no allow range holds it",
                class.describe()
            ),
        }
    }
}

impl std::error::Error for Blocked {}

#[cfg(test)]
mod tests;
