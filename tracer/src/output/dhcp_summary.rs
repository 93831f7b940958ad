//! The DHCP exchange in words, for the text views.

use crate::journey::dhcp_report::{DhcpMessageSeen, DhcpReport};

/// "DISCOVER delivered, OFFER seen, not delivered, REQUEST not seen, ACK not seen".
pub fn messages(d: &DhcpReport) -> String {
    let flag = |m: &DhcpMessageSeen| match (m.seen, m.delivered) {
        (true, true) => "delivered",
        (true, false) => "seen, not delivered",
        _ => "not seen",
    };
    format!(
        "DISCOVER {}, OFFER {}, REQUEST {}, ACK {}",
        flag(&d.discover),
        flag(&d.offer),
        flag(&d.request),
        flag(&d.ack),
    )
}

/// "server 10.10.10.3 offered 10.10.10.2 = host entry 10.10.10.2", when a server answered.
pub fn server(d: &DhcpReport) -> Option<String> {
    let server = d.server?;
    let mut text = format!("server {server}");
    if let Some(ip) = d.offered_ip {
        text += &format!(" offered {ip}");
    }
    match (d.reserved_ip, d.matches_host_entry) {
        (Some(r), Some(true)) => text += &format!(" = host entry {r}"),
        (Some(r), Some(false)) => text += &format!(" but the host entry says {r}"),
        _ => {}
    }
    Some(text)
}
