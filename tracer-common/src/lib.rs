//! The contract between pathtrace's eBPF programs (`tracer-ebpf`) and its userspace (`tracer`).
//!
//! Every type here is `#[repr(C)]`, has no padding the compiler could fill differently on the two
//! sides, and has its size asserted at compile time: the kernel side writes these bytes into a
//! ring buffer or reads them from `.rodata`, the userspace side reinterprets them. Changing a
//! field means changing both sides in the same commit.
#![no_std]

/// Name of the ring buffer map that carries [`PacketEvent`]s to userspace.
pub const EVENTS_MAP: &str = "EVENTS";
/// Name of the per-CPU array (one `u64` slot, index 0) counting events the kernel side could not
/// deliver because the ring buffer was full.
pub const LOST_MAP: &str = "LOST";
/// Name of the `.rodata` global holding the [`Filter`].
pub const FILTER_GLOBAL: &str = "FILTER";
/// Name of the `.rodata` global holding the [`KernelOffsets`].
pub const OFFSETS_GLOBAL: &str = "OFFSETS";
/// Name of the TC classifier program attached to ingress.
pub const TC_INGRESS_PROGRAM: &str = "pathtrace_tc_ingress";
/// Name of the TC classifier program attached to egress.
pub const TC_EGRESS_PROGRAM: &str = "pathtrace_tc_egress";
/// Name of the `tp_btf/kfree_skb` program.
pub const KFREE_SKB_PROGRAM: &str = "pathtrace_kfree_skb";

/// Where in the kernel an event was produced.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// TC classifier on the ingress side of an interface (the packet was received by it).
    TcIngress = 1,
    /// TC classifier on the egress side of an interface (the packet is being sent by it).
    TcEgress = 2,
    /// The `kfree_skb` tracepoint: the kernel freed the packet because it dropped it.
    Drop = 3,
}

impl Hook {
    /// Decodes the raw [`PacketEvent::hook`] byte; `None` for values this build does not know.
    pub fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(Self::TcIngress),
            2 => Some(Self::TcEgress),
            3 => Some(Self::Drop),
            _ => None,
        }
    }
}

/// Where the VLAN tag in [`PacketEvent::vlan_tci`] came from.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VlanSource {
    /// The packet carried no VLAN tag at this hop.
    None = 0,
    /// The tag was held out of band by the skb (`skb->vlan_tci`, "hardware accelerated"), as the
    /// kernel does for most received and OVS-pushed tags.
    Accelerated = 1,
    /// The tag was an 802.1Q/802.1ad header inside the packet bytes.
    InPacket = 2,
}

impl VlanSource {
    /// Decodes the raw [`PacketEvent::vlan_source`] byte; unknown values read as `None`.
    pub fn from_raw(raw: u8) -> Self {
        match raw {
            1 => Self::Accelerated,
            2 => Self::InPacket,
            _ => Self::None,
        }
    }
}

/// Bits of [`PacketEvent::flags`].
pub mod event_flags {
    /// The packet is IPv4 and [`super::PacketEvent::saddr`]/`daddr` are valid.
    pub const IPV4: u16 = 1 << 0;
    /// The packet is UDP or TCP and the port fields are valid.
    pub const L4_PORTS: u16 = 1 << 1;
    /// The packet is a DHCP/BOOTP message: `dhcp_xid` and `dhcp_chaddr` are valid.
    pub const DHCP: u16 = 1 << 2;
    /// The packet bytes could not be read completely (truncated or unreadable header); fields
    /// past the point of failure are zero.
    pub const TRUNCATED: u16 = 1 << 3;
    /// The MAC header was not set on the skb (a locally generated packet dropped before it got
    /// one); the MAC fields are zero and parsing started at the network header.
    pub const NO_MAC_HEADER: u16 = 1 << 4;
}

/// One packet seen at one hook. Written by the kernel into the [`EVENTS_MAP`] ring buffer.
///
/// Multi-byte header fields (addresses, ports, ethertype) are kept in network byte order
/// exactly as in the packet, so userspace never has to guess which side swapped them; the
/// kernel's own counters (`timestamp_ns`, `ifindex`, `len`, ...) are in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PacketEvent {
    /// `bpf_ktime_get_ns()` when the hook ran: monotonic clock, comparable across CPUs and hooks
    /// of one host (not across hosts).
    pub timestamp_ns: u64,
    /// Kernel address of the `struct sk_buff`. Lets userspace tie the events of one packet
    /// together within a host while the skb lives (it is reused after it is freed); 0 when
    /// unknown.
    pub skb_addr: u64,
    /// Inode number of the network namespace of the interface (the number `lsns`, `ip netns
    /// identify` and `/proc/PID/ns/net` show). Used rather than the socket netns cookie because
    /// `bpf_get_netns_cookie()` is not available to TC programs on the kernels we support, and an
    /// inode can be mapped to a name without entering the namespace. 0 when it could not be read.
    pub netns_ino: u32,
    /// Interface index inside that namespace (ifindexes repeat across namespaces).
    pub ifindex: u32,
    /// `skb->len` at the hook: bytes of the whole packet from the current data pointer (for TC,
    /// from the Ethernet header; an out-of-band VLAN tag is not counted).
    pub len: u32,
    /// For [`Hook::Drop`] events: the kernel's `enum skb_drop_reason` value. Its meaning differs
    /// between kernels; userspace resolves the name from the running kernel's BTF. 0 otherwise.
    pub drop_reason: u32,
    /// DHCP/BOOTP transaction id (`xid`), network byte order as in the packet. Valid with
    /// [`event_flags::DHCP`].
    pub dhcp_xid: u32,
    /// IPv4 source address, network byte order. Valid with [`event_flags::IPV4`].
    pub saddr: [u8; 4],
    /// IPv4 destination address, network byte order. Valid with [`event_flags::IPV4`].
    pub daddr: [u8; 4],
    /// Ethernet source MAC address.
    pub src_mac: [u8; 6],
    /// Ethernet destination MAC address.
    pub dst_mac: [u8; 6],
    /// DHCP client hardware address (`chaddr`, first 6 bytes). Valid with [`event_flags::DHCP`].
    pub dhcp_chaddr: [u8; 6],
    /// EtherType of the payload after any VLAN headers (e.g. 0x0800 for IPv4), network byte
    /// order.
    pub ether_type: u16,
    /// VLAN TCI (PCP/DEI/VID) of the outermost tag, host byte order; 0 without a tag. See
    /// [`vlan_source`](Self::vlan_source).
    pub vlan_tci: u16,
    /// TPID of that tag (0x8100 or 0x88a8), host byte order; 0 without a tag.
    pub vlan_proto: u16,
    /// L4 source port, network byte order. Valid with [`event_flags::L4_PORTS`].
    pub sport: u16,
    /// L4 destination port, network byte order. Valid with [`event_flags::L4_PORTS`].
    pub dport: u16,
    /// Bitset of [`event_flags`].
    pub flags: u16,
    /// Which hook produced the event, a [`Hook`] value.
    pub hook: u8,
    /// A [`VlanSource`] value.
    pub vlan_source: u8,
    /// IP protocol number (17 UDP, 6 TCP, 1 ICMP); 0 when not IP.
    pub ip_proto: u8,
    /// DHCP message type (option 53: 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK, ...); 0 when the
    /// packet is not DHCP or the option was not found in the bytes the kernel scans.
    pub dhcp_msg_type: u8,
    /// BOOTP op code (1 request, 2 reply). Valid with [`event_flags::DHCP`].
    pub bootp_op: u8,
    /// Explicit padding so the layout has no implicit holes; always zero.
    pub _pad: [u8; 9],
}

const _: () = assert!(core::mem::size_of::<PacketEvent>() == 88);
const _: () = assert!(core::mem::align_of::<PacketEvent>() == 8);

/// Bits of [`Filter::flags`]: each enabled criterion must match for a packet to be reported.
pub mod filter_flags {
    /// Match packets whose Ethernet source or destination, or DHCP `chaddr`, equals
    /// [`super::Filter::mac`].
    pub const MAC: u32 = 1 << 0;
    /// Match only DHCP/BOOTP packets (UDP with source or destination port 67 or 68).
    pub const DHCP: u32 = 1 << 1;
    /// Report drops (`kfree_skb` with a drop reason) of matching packets.
    pub const DROPS: u32 = 1 << 2;
}

/// What to report, set by userspace in `.rodata` before the programs are loaded, so the verifier
/// sees constants and prunes the checks of criteria that are off.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// Bitset of [`filter_flags`]; 0 reports every packet.
    pub flags: u32,
    /// MAC address for [`filter_flags::MAC`].
    pub mac: [u8; 6],
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<Filter>() == 12);

/// Offset value meaning "this field does not exist on the running kernel".
pub const OFFSET_UNAVAILABLE: u16 = u16::MAX;

/// Byte offsets of kernel structure fields that the probes read with `bpf_probe_read_kernel`.
///
/// aya has no CO-RE relocations, so userspace resolves these from the running kernel's BTF
/// (`/sys/kernel/btf/vmlinux`) and passes them in `.rodata`: nothing about kernel struct layout
/// is compiled into the eBPF object. A field that is missing is [`OFFSET_UNAVAILABLE`] and the
/// probe leaves the matching event field at zero.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KernelOffsets {
    /// `struct sk_buff`: `dev` (`struct net_device *`).
    pub skb_dev: u16,
    /// `struct sk_buff`: `head` (`unsigned char *`, start of the buffer).
    pub skb_head: u16,
    /// `struct sk_buff`: `len` (`unsigned int`).
    pub skb_len: u16,
    /// `struct sk_buff`: `mac_header` (`u16` offset from `head`, `0xffff` when unset).
    pub skb_mac_header: u16,
    /// `struct sk_buff`: `network_header` (`u16` offset from `head`).
    pub skb_network_header: u16,
    /// `struct sk_buff`: `protocol` (`__be16`).
    pub skb_protocol: u16,
    /// `struct sk_buff`: `vlan_tci` (`u16`, out-of-band tag).
    pub skb_vlan_tci: u16,
    /// `struct sk_buff`: `vlan_proto` (`__be16`, 0 without an out-of-band tag).
    pub skb_vlan_proto: u16,
    /// `struct net_device`: `ifindex` (`int`).
    pub dev_ifindex: u16,
    /// `struct net_device`: `nd_net` (`possible_net_t`, whose first member is `struct net *`).
    pub dev_nd_net: u16,
    /// `struct net`: `ns.inum` (`unsigned int`), the namespace inode number.
    pub net_inum: u16,
    /// `struct sk_buff`: `tail` (`sk_buff_data_t`, offset of the end of the linear data from
    /// `head` on 64-bit kernels). Bounds the packet bytes the drop probe reads.
    pub skb_tail: u16,
}

const _: () = assert!(core::mem::size_of::<KernelOffsets>() == 24);

impl KernelOffsets {
    /// Every field unavailable: what the kernel side sees if userspace set nothing.
    pub const UNAVAILABLE: Self = Self {
        skb_dev: OFFSET_UNAVAILABLE,
        skb_head: OFFSET_UNAVAILABLE,
        skb_len: OFFSET_UNAVAILABLE,
        skb_mac_header: OFFSET_UNAVAILABLE,
        skb_network_header: OFFSET_UNAVAILABLE,
        skb_protocol: OFFSET_UNAVAILABLE,
        skb_vlan_tci: OFFSET_UNAVAILABLE,
        skb_vlan_proto: OFFSET_UNAVAILABLE,
        dev_ifindex: OFFSET_UNAVAILABLE,
        dev_nd_net: OFFSET_UNAVAILABLE,
        net_inum: OFFSET_UNAVAILABLE,
        skb_tail: OFFSET_UNAVAILABLE,
    };
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: all three are #[repr(C)], contain only integers and byte arrays, have explicit
    // padding fields and no implicit holes (sizes asserted above), so any bit pattern is valid.
    unsafe impl aya::Pod for super::PacketEvent {}
    unsafe impl aya::Pod for super::Filter {}
    unsafe impl aya::Pod for super::KernelOffsets {}
}
