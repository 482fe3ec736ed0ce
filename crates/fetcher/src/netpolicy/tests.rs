use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("test address")
}

fn net(text: &str) -> IpNet {
    text.parse().expect("test range")
}

#[test]
fn ipv4_classes() {
    use AddressClass::*;
    let table = [
        ("0.0.0.0", Unspecified),
        ("0.255.255.255", Unspecified),
        ("1.1.1.1", Public),
        ("8.8.8.8", Public),
        ("9.255.255.255", Public),
        ("10.0.0.0", Private),
        ("10.255.255.255", Private),
        ("11.0.0.0", Public),
        ("100.63.255.255", Public),
        ("100.64.0.0", SharedAddress),
        ("100.127.255.255", SharedAddress),
        ("100.128.0.0", Public),
        ("126.255.255.255", Public),
        ("127.0.0.1", Loopback),
        ("127.0.0.2", Loopback),
        ("127.255.255.255", Loopback),
        ("128.0.0.0", Public),
        ("169.253.255.255", Public),
        ("169.254.0.0", LinkLocal),
        ("169.254.169.254", LinkLocal),
        ("169.254.255.255", LinkLocal),
        ("169.255.0.0", Public),
        ("172.15.255.255", Public),
        ("172.16.0.0", Private),
        ("172.31.255.255", Private),
        ("172.32.0.0", Public),
        ("192.0.0.0", ProtocolAssignment),
        ("192.0.0.255", ProtocolAssignment),
        ("192.0.1.0", Public),
        ("192.0.2.1", Documentation),
        ("192.88.99.1", Reserved),
        ("192.167.255.255", Public),
        ("192.168.0.1", Private),
        ("192.168.255.255", Private),
        ("192.169.0.0", Public),
        ("198.17.255.255", Public),
        ("198.18.0.0", Benchmarking),
        ("198.19.255.255", Benchmarking),
        ("198.20.0.0", Public),
        ("198.51.100.7", Documentation),
        ("203.0.113.9", Documentation),
        ("223.255.255.255", Public),
        ("224.0.0.1", Multicast),
        ("239.255.255.255", Multicast),
        ("240.0.0.0", Reserved),
        ("255.255.255.254", Reserved),
        ("255.255.255.255", Broadcast),
    ];
    for (text, class) in table {
        assert_eq!(classify_address(ip(text)), class, "{text}");
    }
}

#[test]
fn ipv6_classes() {
    use AddressClass::*;
    let table = [
        ("::", Unspecified),
        ("::1", Loopback),
        ("2606:4700::1111", Public),
        ("2a00:1450:4001::1", Public),
        ("2001::1", ProtocolAssignment),
        ("2001:1ff:ffff::1", ProtocolAssignment),
        ("2001:200::1", Public),
        ("2001:2::1", Benchmarking),
        ("2001:db8::1", Documentation),
        ("3fff::1", Documentation),
        ("3fff:fff::1", Documentation),
        ("3fff:1000::1", Public),
        ("fc00::1", UniqueLocal),
        ("fd12:3456::1", UniqueLocal),
        ("fe80::1", LinkLocal),
        ("febf:ffff::1", LinkLocal),
        ("fec0::1", UniqueLocal),
        ("ff02::1", Multicast),
        ("100::1", Reserved),
        ("64:ff9b:1::1", Private),
        ("4000::1", Reserved),
        ("1000::1", Reserved),
        ("fd00:ec2::254", UniqueLocal),
    ];
    for (text, class) in table {
        assert_eq!(classify_address(ip(text)), class, "{text}");
    }
}

#[test]
fn ipv6_forms_carrying_ipv4_take_its_class() {
    use AddressClass::*;
    let table = [
        ("::ffff:127.0.0.1", Loopback),
        ("::ffff:169.254.169.254", LinkLocal),
        ("::ffff:10.1.2.3", Private),
        ("::ffff:8.8.8.8", Public),
        ("::ffff:0.0.0.0", Unspecified),
        ("::ffff:0:192.168.1.1", Private),
        ("::127.0.0.1", Loopback),
        ("::169.254.169.254", LinkLocal),
        ("::8.8.8.8", Public),
        ("::2", Unspecified),
        ("64:ff9b::7f00:1", Loopback),
        ("64:ff9b::a9fe:a9fe", LinkLocal),
        ("64:ff9b::808:808", Public),
        ("2002:7f00:1::1", Loopback),
        ("2002:a9fe:a9fe::", LinkLocal),
        ("2002:808:808::1", Public),
    ];
    for (text, class) in table {
        assert_eq!(classify_address(ip(text)), class, "{text}");
    }
    assert_eq!(
        embedded_v4("::ffff:1.2.3.4".parse().unwrap()),
        Some(Ipv4Addr::new(1, 2, 3, 4))
    );
    assert_eq!(embedded_v4("::1".parse().unwrap()), None);
    assert_eq!(embedded_v4("2001:db8::1".parse().unwrap()), None);
}

#[test]
fn the_default_policy_allows_only_public_addresses() {
    let policy = NetworkPolicy::default();
    for public in ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
        assert_eq!(policy.check(ip(public)), Ok(()), "{public}");
    }
    for class in AddressClass::ALL {
        if *class == AddressClass::Public {
            continue;
        }
        let sample = [
            "127.0.0.1",
            "10.0.0.1",
            "fd00::1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
        ]
        .into_iter()
        .map(ip)
        .find(|addr| classify_address(*addr) == *class)
        .expect("a sample per class");
        assert_eq!(
            policy.check(sample),
            Err(Blocked {
                addr: sample,
                reason: BlockReason::Class(*class)
            }),
            "{sample}"
        );
    }
}

#[test]
fn an_allowed_class_admits_its_addresses_in_every_spelling() {
    let policy = NetworkPolicy::default().allow_class(AddressClass::Loopback);
    for addr in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
        assert_eq!(policy.check(ip(addr)), Ok(()), "{addr}");
    }
    assert!(policy.check(ip("10.0.0.1")).is_err());
    assert!(policy.check(ip("169.254.169.254")).is_err());
}

#[test]
fn deny_beats_allow_and_allow_beats_class() {
    let policy = NetworkPolicy::default()
        .allow_class(AddressClass::Loopback)
        .allow(net("169.254.169.254/32"))
        .allow(net("10.0.0.0/8"))
        .deny(net("10.9.0.0/16"))
        .deny(net("127.0.0.2/32"))
        .deny(net("8.8.8.0/24"));
    assert_eq!(policy.check(ip("169.254.169.254")), Ok(()));
    assert!(policy.check(ip("169.254.169.253")).is_err());
    assert_eq!(policy.check(ip("10.1.2.3")), Ok(()));
    assert_eq!(
        policy.check(ip("10.9.0.1")),
        Err(Blocked {
            addr: ip("10.9.0.1"),
            reason: BlockReason::Denied(net("10.9.0.0/16")),
        })
    );
    assert_eq!(policy.check(ip("127.0.0.1")), Ok(()));
    assert!(policy.check(ip("127.0.0.2")).is_err());
    // The ranges match an IPv6 spelling of their IPv4 addresses.
    assert!(policy.check(ip("::ffff:127.0.0.2")).is_err());
    assert!(policy.check(ip("64:ff9b::7f00:2")).is_err());
    // Deny applies to public addresses too.
    assert!(policy.check(ip("8.8.8.8")).is_err());
    assert_eq!(policy.check(ip("8.8.4.4")), Ok(()));
}

#[test]
fn ranges_are_kept_truncated() {
    let policy = NetworkPolicy::default().deny(net("10.1.2.3/8"));
    assert_eq!(policy.deny_ranges(), [net("10.0.0.0/8")]);
}

#[test]
fn messages_name_the_address_and_the_reason() {
    let policy = NetworkPolicy::default().deny(net("127.0.0.2/32"));
    let denied = policy.check(ip("127.0.0.2")).unwrap_err().to_string();
    assert!(denied.contains("127.0.0.2 is blocked"), "{denied}");
    assert!(denied.contains("denied range 127.0.0.2/32"), "{denied}");
    let metadata = policy.check(ip("169.254.169.254")).unwrap_err().to_string();
    assert!(metadata.contains("169.254.169.254"), "{metadata}");
    assert!(metadata.contains("link-local"), "{metadata}");
    let private = policy.check(ip("192.168.1.1")).unwrap_err().to_string();
    assert!(private.contains("private"), "{private}");
}

#[test]
fn class_names_are_unique_and_sets_hold_every_class() {
    let mut names = std::collections::HashSet::new();
    let all: ClassSet = AddressClass::ALL.iter().copied().collect();
    for class in AddressClass::ALL {
        assert!(names.insert(class.as_str()), "{class}");
        assert!(all.contains(*class));
    }
    assert_eq!(all.iter().count(), AddressClass::ALL.len());
    assert!(ClassSet::EMPTY.is_empty());
}
