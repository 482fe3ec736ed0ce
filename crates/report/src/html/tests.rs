use super::*;

#[test]
fn text_is_escaped_and_cut_on_character_boundaries() {
    assert_eq!(
        esc("<script>alert('x')&\"</script>\u{7}"),
        "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;\u{fffd}"
    );
    assert_eq!(cut("ääää", 2), "ää…");
    assert_eq!(cut("ab", 2), "ab");
    assert_eq!(url_cell("javascript:alert(1)"), "javascript:alert(1)");
    assert!(url_cell("HTTPS://a/\"x").starts_with("<a href=\"HTTPS://a/&quot;x\""));
}

#[test]
fn numbers_read_well() {
    assert_eq!(count(0), "0");
    assert_eq!(count(1_234_567), "1,234,567");
    assert_eq!(bytes(1023), "1023 B");
    assert_eq!(bytes(1536), "1.5 KiB");
    assert_eq!(bytes(20 << 20), "20 MiB");
    assert_eq!(millis(999), "999 ms");
    assert_eq!(millis(1_500), "1.5 s");
    assert_eq!(millis(61_000), "1 min 1 s");
    assert_eq!(bytes(1024), "1 KiB");
    assert_eq!(compact_millis(458_000), "7m38s");
    assert_eq!(compact_millis(1_500), "1.5s");
}
