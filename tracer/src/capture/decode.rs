//! Bytes from the ring buffer -> [`PacketEvent`].

use tracer_common::PacketEvent;

/// Decodes one ring buffer record; `None` if it is not a whole event (a build mismatch between
/// the two sides, which the size assertion in `tracer-common` should make impossible).
pub fn decode_event(bytes: &[u8]) -> Option<PacketEvent> {
    if bytes.len() < std::mem::size_of::<PacketEvent>() {
        return None;
    }
    // SAFETY: PacketEvent is Pod (any bit pattern is valid) and the length was checked; the
    // record may not be 8-byte aligned for us, hence the unaligned read.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<PacketEvent>()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_records_are_rejected() {
        assert!(decode_event(&[0u8; 10]).is_none());
    }

    #[test]
    fn roundtrips_fields() {
        let mut ev: PacketEvent = unsafe { std::mem::zeroed() };
        ev.ifindex = 7;
        ev.src_mac = [1, 2, 3, 4, 5, 6];
        ev.dhcp_msg_type = 3;
        let bytes: [u8; std::mem::size_of::<PacketEvent>()] = unsafe { std::mem::transmute(ev) };
        // Misaligned on purpose.
        let mut buf = vec![0u8; bytes.len() + 1];
        buf[1..].copy_from_slice(&bytes);
        let back = decode_event(&buf[1..]).unwrap();
        assert_eq!(back.ifindex, 7);
        assert_eq!(back.src_mac, [1, 2, 3, 4, 5, 6]);
        assert_eq!(back.dhcp_msg_type, 3);
    }
}
