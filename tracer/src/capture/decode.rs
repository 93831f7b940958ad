//! Bytes from the ring buffer -> [`Record`].

use tracer_common::{PacketEvent, SNAPSHOT_MAX, SNAPSHOT_OFFSET};

/// One event and the packet bytes it carried.
#[derive(Clone, Debug)]
pub struct Record {
    pub event: PacketEvent,
    /// The first bytes of the packet (as many as `--snapshot-len` asked for and the packet had).
    pub snapshot: Vec<u8>,
}

/// Decodes one ring buffer record (an event and its snapshot, whatever the snapshot area's
/// class); `None` if it is not a whole record (a build mismatch between the two sides, which the
/// size assertions in `tracer-common` should make impossible).
pub fn decode_record(bytes: &[u8]) -> Option<Record> {
    if bytes.len() < SNAPSHOT_OFFSET {
        return None;
    }
    // SAFETY: PacketEvent is Pod (any bit pattern is valid) and the length was checked; the
    // record may not be 8-byte aligned for us, hence the unaligned read.
    let event = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<PacketEvent>()) };
    let len = (event.snapshot_len as usize).min(SNAPSHOT_MAX);
    Some(Record {
        event,
        snapshot: bytes.get(SNAPSHOT_OFFSET..SNAPSHOT_OFFSET + len)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracer_common::EventRecord;

    #[test]
    fn short_records_are_rejected() {
        assert!(decode_record(&[0u8; 10]).is_none());
        // A snapshot longer than the record's area.
        let mut rec: EventRecord<64> = unsafe { std::mem::zeroed() };
        rec.event.snapshot_len = 65;
        let bytes: [u8; std::mem::size_of::<EventRecord<64>>()] =
            unsafe { std::mem::transmute(rec) };
        assert!(decode_record(&bytes).is_none());
    }

    #[test]
    fn a_record_without_snapshot_area_decodes() {
        let mut rec: EventRecord<0> = unsafe { std::mem::zeroed() };
        rec.event.ifindex = 3;
        let bytes: [u8; std::mem::size_of::<EventRecord<0>>()] =
            unsafe { std::mem::transmute(rec) };
        let back = decode_record(&bytes).unwrap();
        assert_eq!(back.event.ifindex, 3);
        assert!(back.snapshot.is_empty());
    }

    #[test]
    fn roundtrips_fields_and_snapshot() {
        let mut rec: EventRecord<128> = unsafe { std::mem::zeroed() };
        rec.event.ifindex = 7;
        rec.event.src_mac = [1, 2, 3, 4, 5, 6];
        rec.event.dhcp_msg_type = 3;
        rec.event.snapshot_len = 4;
        rec.snapshot[..5].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0x99]);
        let bytes: [u8; std::mem::size_of::<EventRecord<128>>()] =
            unsafe { std::mem::transmute(rec) };
        // Misaligned on purpose.
        let mut buf = vec![0u8; bytes.len() + 1];
        buf[1..].copy_from_slice(&bytes);
        let back = decode_record(&buf[1..]).unwrap();
        assert_eq!(back.event.ifindex, 7);
        assert_eq!(back.event.src_mac, [1, 2, 3, 4, 5, 6]);
        assert_eq!(back.event.dhcp_msg_type, 3);
        assert_eq!(back.snapshot, vec![0xde, 0xad, 0xbe, 0xef]);
    }
}
