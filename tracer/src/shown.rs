//! Text that other processes, tenants or files chose (netlink and OVSDB names, command lines,
//! logical ports, ACL matches), made safe to print: control characters escaped, length bounded.
//! A leaf: every stage that puts such text into output uses it.

/// The most characters of an untrusted string it shows.
pub const MAX_SHOWN_CHARS: usize = 96;

/// `s` safe to print: control characters escaped, at most [`MAX_SHOWN_CHARS`] characters.
pub fn shown(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    match escaped.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}
