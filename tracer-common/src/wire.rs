//! Numbers fixed by the wire formats and kernel ABIs both sides decode, named once here so that
//! the eBPF parser, the userspace decoder and the CLI cannot disagree about them.

/// EtherTypes (IEEE 802 numbers), host byte order.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag (customer tag).
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88a8;
    /// Transparent Ethernet bridging: the protocol type of a Geneve payload that is a frame.
    pub const TEB: u16 = 0x6558;

    /// Whether `t` introduces a VLAN tag (802.1Q or 802.1ad).
    pub const fn is_vlan(t: u16) -> bool {
        t == VLAN || t == QINQ
    }
}

/// IP protocol numbers (IANA), as in the IPv4 protocol / IPv6 next-header field.
pub mod ip_proto {
    /// IPv6 hop-by-hop options extension header.
    pub const HOPOPTS: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// IPv6 routing extension header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment extension header.
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    /// IPv6 destination options extension header.
    pub const DSTOPTS: u8 = 60;

    /// Whether a transport header of this protocol starts with source and destination ports.
    pub const fn has_ports(p: u8) -> bool {
        p == TCP || p == UDP
    }

    /// ICMP for IPv4 or IPv6.
    pub const fn is_icmp(p: u8) -> bool {
        p == ICMP || p == ICMPV6
    }
}

/// ICMP and ICMPv6 message types pathtrace names.
pub mod icmp_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const V6_DEST_UNREACHABLE: u8 = 1;
    pub const V6_PACKET_TOO_BIG: u8 = 2;
    pub const V6_TIME_EXCEEDED: u8 = 3;
    pub const V6_ECHO_REQUEST: u8 = 128;
    pub const V6_ECHO_REPLY: u8 = 129;
}

/// Fixed header lengths in bytes.
pub mod header_len {
    /// Ethernet II header: destination, source, EtherType.
    pub const ETHERNET: usize = 14;
    /// One 802.1Q/802.1ad tag (TPID + TCI).
    pub const VLAN_TAG: usize = 4;
    pub const IPV6: usize = 40;
    pub const UDP: usize = 8;
    /// VXLAN and Geneve base headers.
    pub const TUNNEL: usize = 8;
}

/// The TCP header's flags: the byte at [`tcp::FLAGS_OFFSET`], one bit each.
pub mod tcp {
    /// Offset of the flags byte in the TCP header.
    pub const FLAGS_OFFSET: usize = 13;
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// The 802.1Q tag control information (TCI) layout.
pub mod vlan_tci {
    /// The VLAN id: the low 12 bits.
    pub const VID_MASK: u16 = 0x0fff;
    /// The priority code point: the top 3 bits.
    pub const PCP_SHIFT: u16 = 13;
    /// Set by the Open vSwitch datapath in `push_vlan`'s TCI ("tag present").
    pub const PRESENT: u16 = 0x1000;
}

/// BOOTP/DHCPv4 (RFC 951, RFC 2131, RFC 2132).
pub mod bootp {
    pub const SERVER_PORT: u16 = 67;
    pub const CLIENT_PORT: u16 = 68;
    /// `op` of a message from a client.
    pub const OP_REQUEST: u8 = 1;
    /// `op` of a message from a server.
    pub const OP_REPLY: u8 = 2;
    /// Offsets inside a BOOTP message (RFC 2131 figure 1).
    pub const XID_OFFSET: usize = 4;
    pub const SECS_OFFSET: usize = 8;
    pub const CHADDR_OFFSET: usize = 28;
    pub const COOKIE_OFFSET: usize = 236;
    pub const OPTIONS_OFFSET: usize = 240;
    pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
    pub const OPT_PAD: u8 = 0;
    pub const OPT_END: u8 = 255;
    pub const OPT_MESSAGE_TYPE: u8 = 53;

    /// Values of the DHCP message type option (53).
    pub mod message {
        pub const DISCOVER: u8 = 1;
        pub const OFFER: u8 = 2;
        pub const REQUEST: u8 = 3;
        pub const DECLINE: u8 = 4;
        pub const ACK: u8 = 5;
        pub const NAK: u8 = 6;
        pub const RELEASE: u8 = 7;
        pub const INFORM: u8 = 8;
    }
}

/// `enum ovs_action_attr` of the Open vSwitch datapath (stable uapi,
/// `include/uapi/linux/openvswitch.h`). The names printed come from the running kernel's BTF;
/// these are the values the probes and the decoder branch on.
pub mod ovs_action {
    pub const OUTPUT: u8 = 1;
    pub const USERSPACE: u8 = 2;
    pub const SET: u8 = 3;
    pub const PUSH_VLAN: u8 = 4;
    pub const POP_VLAN: u8 = 5;
    pub const SAMPLE: u8 = 6;
    pub const RECIRC: u8 = 7;
    pub const HASH: u8 = 8;
    /// Set header fields under a mask (stable uapi number).
    pub const SET_MASKED: u8 = 11;
    /// `OVS_ACTION_ATTR_SET_TO_MASKED` is kernel-internal: its number moves with the kernel
    /// (it follows `__OVS_ACTION_ATTR_MAX`), so it is recognised by its BTF name.
    pub const SET_TO_MASKED_NAME: &str = "set_to_masked";
}

/// `OVS_PACKET_CMD_*`: why the datapath sent a packet to ovs-vswitchd.
pub mod ovs_upcall {
    /// No datapath flow matched.
    pub const MISS: u8 = 1;
    /// A flow's `userspace` action.
    pub const ACTION: u8 = 2;
}

/// Default size of the events ring buffer: 10 ms (the userspace drain period) of ~400 MB/s of
/// records. The eBPF object declares the map with it; userspace resizes it on request.
pub const DEFAULT_RING_BUFFER_BYTES: u32 = 4 << 20;
