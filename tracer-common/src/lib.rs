//! The contract between pathtrace's eBPF programs (`tracer-ebpf`) and its userspace (`tracer`).
//!
//! Every type here is `#[repr(C)]`, has no padding the compiler could fill differently on the two
//! sides, and has its size asserted at compile time: the kernel side writes these bytes into a
//! ring buffer or reads them from `.rodata`, the userspace side reinterprets them. Changing a
//! field means changing both sides in the same commit.
//!
//! One record in the ring buffer is an [`EventRecord`]: a fixed [`PacketEvent`] (what was seen
//! and where, with every field of the [packet fingerprint](PacketEvent::compute_fingerprint))
//! followed by a snapshot of the packet's first bytes, in an area sized to fit it.
#![no_std]

pub mod wire;

/// Name of the ring buffer map that carries [`EventRecord`]s to userspace.
pub const EVENTS_MAP: &str = "EVENTS";
/// Name of the per-CPU array (one `u64` slot, index 0) counting events the kernel side could not
/// deliver because the ring buffer was full.
pub const LOST_MAP: &str = "LOST";
/// Name of the array map of the network namespace inode of each attached interface, indexed by
/// [`netns_slot`]: one run of [`NETNS_BY_IFINDEX_ENTRIES`] ifindexes per [`TC_NETNS_GROUPS`]
/// group. 0 where no attached interface has the index in that group, or where more interfaces
/// share it than there are groups. The TC programs read the namespace from it instead of
/// following `skb->dev->nd_net` (three dependent kernel reads), and fall back to
/// [`NETNS_BY_DEV_MAP`] on 0 or an index past the end.
pub const NETNS_BY_IFINDEX_MAP: &str = "NETNS_BY_IFINDEX";
/// Ifindexes per group of [`NETNS_BY_IFINDEX_MAP`] (256 KiB each): ifindexes only grow, and
/// long-lived hosts with interface churn reach tens of thousands.
pub const NETNS_BY_IFINDEX_ENTRIES: u32 = 1 << 16;
/// Copies of each TC program, one per namespace group. Every namespace numbers its interfaces
/// from 1, so interfaces in different namespaces share ifindexes (each namespace's first veth
/// is 2); an interface is attached to the copy of its group, and within a group an ifindex
/// names one namespace. A copy knows its group as a constant, so the namespace of a packet is
/// one array load, where reading it from the device costs a kernel read and a hash lookup
/// (about a third of a reported packet's cost, `cargo xtask bench --only cost`). Userspace
/// loads only the copies the traced interfaces need.
pub const TC_NETNS_GROUPS: usize = 4;
/// Index in [`NETNS_BY_IFINDEX_MAP`] of `ifindex` in namespace group `group`, if in range.
#[inline(always)]
pub const fn netns_slot(group: u32, ifindex: u32) -> Option<u32> {
    if ifindex < NETNS_BY_IFINDEX_ENTRIES && (group as usize) < TC_NETNS_GROUPS {
        Some(group * NETNS_BY_IFINDEX_ENTRIES + ifindex)
    } else {
        None
    }
}
/// Name of the hash map from a kernel `struct net_device *` to the inode of its network
/// namespace, filled by the TC programs the first time they see a device whose ifindex
/// [`NETNS_BY_IFINDEX_MAP`] leaves ambiguous. A device the programs run on is attached, so an
/// address cannot be reused by another device while they run; userspace never reads it.
pub const NETNS_BY_DEV_MAP: &str = "NETNS_BY_DEV";
/// Entries of [`NETNS_BY_DEV_MAP`]: more than interfaces are ever attached in one run; past it
/// the programs read the namespace each time.
pub const NETNS_BY_DEV_ENTRIES: u32 = 4096;
/// Name of the `.bss` global (a [`LearnedSender`]) holding the traced MAC's own IP addresses
/// as the probes learned them ([`filter_flags::LEARN_SENDER`]); zero when loaded.
pub const SENDER_GLOBAL: &str = "SENDER";
/// Name of the `.rodata` global holding the [`Filter`].
pub const FILTER_GLOBAL: &str = "FILTER";
/// Name of the `.rodata` global holding the [`KernelOffsets`].
pub const OFFSETS_GLOBAL: &str = "OFFSETS";
/// Name of the `.rodata` global holding the [`TracepointOffsets`].
pub const TRACEPOINT_OFFSETS_GLOBAL: &str = "TP_OFFSETS";
/// Names of the TC classifier programs attached to ingress, one per namespace group
/// ([`TC_NETNS_GROUPS`]).
pub const TC_INGRESS_PROGRAMS: [&str; TC_NETNS_GROUPS] = [
    "pathtrace_tc_ingress",
    "pathtrace_tc_ingress_g1",
    "pathtrace_tc_ingress_g2",
    "pathtrace_tc_ingress_g3",
];
/// Names of the TC classifier programs attached to egress, one per namespace group.
pub const TC_EGRESS_PROGRAMS: [&str; TC_NETNS_GROUPS] = [
    "pathtrace_tc_egress",
    "pathtrace_tc_egress_g1",
    "pathtrace_tc_egress_g2",
    "pathtrace_tc_egress_g3",
];
/// Name of the `tp_btf/kfree_skb` program (preferred drop probe).
pub const KFREE_SKB_BTF_PROGRAM: &str = "pathtrace_kfree_skb";
/// Name of the classic `skb:kfree_skb` tracepoint program (drop probe fallback).
pub const KFREE_SKB_TP_PROGRAM: &str = "pathtrace_kfree_skb_tp";
/// Name of the kprobe on `ovs_vport_receive` (a packet enters the OVS datapath).
pub const OVS_RECEIVE_PROGRAM: &str = "pathtrace_ovs_receive";
/// Name of the kprobe on `ovs_vport_send` (the OVS datapath sends a packet out of a port).
pub const OVS_SEND_PROGRAM: &str = "pathtrace_ovs_send";
/// Name of the `openvswitch:ovs_do_execute_action` tracepoint program.
pub const OVS_ACTION_PROGRAM: &str = "pathtrace_ovs_action";
/// Name of the `openvswitch:ovs_dp_upcall` tracepoint program.
pub const OVS_UPCALL_PROGRAM: &str = "pathtrace_ovs_upcall";

/// Largest packet snapshot an event can carry ([`EventRecord::snapshot`]): enough for a DHCP
/// message's options behind Ethernet, a VLAN tag and a VXLAN/Geneve underlay.
pub const SNAPSHOT_MAX: usize = 512;

/// UDP destination ports recognised as tunnels whose inner packet the probes decode.
pub mod tunnel_ports {
    /// VXLAN, IANA port (Open vSwitch, most deployments).
    pub const VXLAN: u16 = 4789;
    /// VXLAN, the Linux kernel's historical default when no `dstport` is given.
    pub const VXLAN_LINUX: u16 = 8472;
    /// Geneve (OVN, Open vSwitch).
    pub const GENEVE: u16 = 6081;
}

/// Where in the kernel an event was produced.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// TC classifier on the ingress side of an interface (the packet was received by it).
    TcIngress = 1,
    /// TC classifier on the egress side of an interface (the packet is being sent by it).
    TcEgress = 2,
    /// `kfree_skb`: the kernel freed the packet because it dropped it.
    Drop = 3,
    /// kprobe on `ovs_vport_receive`: the packet entered the Open vSwitch kernel datapath from a
    /// port; [`PacketEvent::ifindex`] is that port's netdev, [`OvsSection::port`] its datapath
    /// port number.
    OvsReceive = 4,
    /// Tracepoint `openvswitch:ovs_do_execute_action`: the datapath is about to apply one action
    /// of the packet's flow to it ([`OvsSection::action`]). The headers are as they are before
    /// that action.
    OvsAction = 5,
    /// Tracepoint `openvswitch:ovs_dp_upcall`: the datapath sent the packet to ovs-vswitchd (a
    /// flow miss, or a `userspace` action).
    OvsUpcall = 6,
    /// kprobe on `ovs_vport_send`: the datapath sends the packet out of a port; `ifindex` is the
    /// port's netdev and the headers are as they leave (VLAN pushed, tunnel not yet added).
    OvsSend = 7,
}

impl Hook {
    /// Decodes the raw [`PacketEvent::hook`] byte; `None` for values this build does not know.
    pub fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(Self::TcIngress),
            2 => Some(Self::TcEgress),
            3 => Some(Self::Drop),
            4 => Some(Self::OvsReceive),
            5 => Some(Self::OvsAction),
            6 => Some(Self::OvsUpcall),
            7 => Some(Self::OvsSend),
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

/// Encapsulation recognised around the packet ([`TunnelSection::kind`]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelKind {
    /// Not tunnelled (or not a tunnel the probes decode).
    None = 0,
    /// VXLAN (RFC 7348) over UDP.
    Vxlan = 1,
    /// Geneve (RFC 8926) over UDP.
    Geneve = 2,
}

impl TunnelKind {
    /// Decodes the raw byte; unknown values read as `None`.
    pub fn from_raw(raw: u8) -> Self {
        match raw {
            1 => Self::Vxlan,
            2 => Self::Geneve,
            _ => Self::None,
        }
    }
}

/// Bits of [`PacketEvent::flags`].
pub mod event_flags {
    /// The packet is IPv4: `saddr`/`daddr` hold the addresses in their first 4 bytes, `ip_id`
    /// is valid.
    pub const IPV4: u16 = 1 << 0;
    /// `l4_head` holds the first 8 bytes of the transport header (TCP, UDP, ICMP, ICMPv6) of an
    /// IP packet, or the first 8 bytes after the Ethernet/VLAN headers of a non-IP packet.
    pub const L4: u16 = 1 << 1;
    /// The packet is a DHCP/BOOTP message: `dhcp_*` and `bootp_op` are valid.
    pub const DHCP: u16 = 1 << 2;
    /// The packet bytes could not be read completely (truncated or unreadable header); fields
    /// past the point of failure are zero.
    pub const TRUNCATED: u16 = 1 << 3;
    /// The MAC header was not set on the skb (a locally generated packet dropped before it got
    /// one); the MAC fields are zero and parsing started at the network header.
    pub const NO_MAC_HEADER: u16 = 1 << 4;
    /// The packet is IPv6: `saddr`/`daddr` hold the 16-byte addresses.
    pub const IPV6: u16 = 1 << 5;
    /// The packet is a non-first IP fragment: it has no transport header.
    pub const FRAGMENT: u16 = 1 << 6;
    /// The packet is encapsulated: the header fields describe the inner packet and
    /// [`super::PacketEvent::tunnel`] the outer one.
    pub const TUNNEL: u16 = 1 << 7;
    /// Only the outer headers matched the filter (the inner packet, if any, did not).
    pub const OUTER_MATCH: u16 = 1 << 8;
}

/// Open vSwitch datapath details, valid for the `Ovs*` [`Hook`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct OvsSection {
    /// [`Hook::OvsReceive`]/[`Hook::OvsSend`]: datapath port number of the vport (as `ovs-dpctl
    /// show` numbers them; not the OpenFlow port). [`Hook::OvsAction`] with an `output` action:
    /// the output port. [`Hook::OvsUpcall`]: the netlink port id of the handler thread.
    pub port: u32,
    /// Action argument, host byte order: for `push_vlan`, `tpid << 16 | tci` (the TCI as the
    /// datapath has it, with the 0x1000 "present" bit set); for `recirc`, the recirculation id;
    /// for `hash`, the hash algorithm; 0 otherwise.
    pub arg: u32,
    /// [`Hook::OvsAction`]: the `enum ovs_action_attr` value (stable uapi: 1 output,
    /// 2 userspace, 3 set, 4 push_vlan, 5 pop_vlan, 6 sample, 7 recirc, 8 hash, ... 12 ct, ...).
    pub action: u8,
    /// [`Hook::OvsUpcall`]: `OVS_PACKET_CMD_*` (1 miss, 2 action).
    pub upcall_cmd: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<OvsSection>() == 12);

/// The outer headers of an encapsulated packet (with [`event_flags::TUNNEL`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TunnelSection {
    /// Outer IP source (IPv4 in the first 4 bytes when `outer_ipv6` is 0), network order.
    pub outer_saddr: [u8; 16],
    /// Outer IP destination, same layout.
    pub outer_daddr: [u8; 16],
    /// VXLAN/Geneve network identifier (24 bits), host byte order.
    pub vni: u32,
    /// Outer UDP source port, host byte order (the tunnel's per-flow entropy).
    pub outer_sport: u16,
    /// A [`TunnelKind`] value.
    pub kind: u8,
    /// 1 if the outer header is IPv6.
    pub outer_ipv6: u8,
}

const _: () = assert!(core::mem::size_of::<TunnelSection>() == 40);

/// One packet seen at one hook: the fixed part of an [`EventRecord`].
///
/// Multi-byte header fields (addresses, ports, ethertype, `l4_head`) are kept in network byte
/// order exactly as in the packet, so userspace never has to guess which side swapped them; the
/// kernel's own values (`timestamp_ns`, `ifindex`, `len`, TCI, ...) are in host order.
///
/// For an encapsulated packet (VXLAN/Geneve, [`event_flags::TUNNEL`]), the L2-L4 fields describe
/// the **inner** packet, the one the user follows, and [`tunnel`](Self::tunnel) the outer one,
/// except `vlan_*`, which always describe the tag the packet carries at this hop.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PacketEvent {
    /// `bpf_ktime_get_ns()` when the hook ran: monotonic clock, comparable across CPUs and hooks
    /// of one host (not across hosts).
    pub timestamp_ns: u64,
    /// Kernel address of the `struct sk_buff`. Ties the events of one packet together within a
    /// host while the skb lives (it is reused after it is freed, and clones have their own).
    pub skb_addr: u64,
    /// Identity of the packet, equal at every hop it crosses: see
    /// [`compute_fingerprint`](Self::compute_fingerprint). The probes leave it 0 and userspace
    /// computes it when it decodes the event (recordings made when the probes computed it hold
    /// the same value): the mix is a multiply chain that cost a reported packet ~26 ns in the
    /// kernel, and every field it hashes travels in the event anyway.
    pub fingerprint: u64,
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
    /// For [`Hook::Drop`] events: the kernel's `enum skb_drop_reason` value (or a subsystem
    /// reason such as Open vSwitch's, `subsystem << 16 | code`). Its meaning differs between
    /// kernels; userspace resolves the name from the running kernel's BTF. 0 otherwise.
    pub drop_reason: u32,
    /// DHCP/BOOTP transaction id (`xid`), network byte order as in the packet. Valid with
    /// [`event_flags::DHCP`].
    pub dhcp_xid: u32,
    /// IP source address, network byte order: 4 bytes then zeros for IPv4
    /// ([`event_flags::IPV4`]), 16 bytes for IPv6 ([`event_flags::IPV6`]).
    pub saddr: [u8; 16],
    /// IP destination address, same layout as `saddr`.
    pub daddr: [u8; 16],
    /// First 8 bytes of the transport header, as in the packet ([`event_flags::L4`]): TCP/UDP
    /// ports then the TCP sequence number / UDP length and checksum; ICMP(v6) type, code,
    /// checksum, identifier and sequence. For non-IP packets, the first 8 payload bytes (for
    /// ARP: hardware/protocol types, lengths and the operation).
    pub l4_head: [u8; 8],
    /// Ethernet source MAC address.
    pub src_mac: [u8; 6],
    /// Ethernet destination MAC address.
    pub dst_mac: [u8; 6],
    /// DHCP client hardware address (`chaddr`, first 6 bytes). Valid with [`event_flags::DHCP`].
    pub dhcp_chaddr: [u8; 6],
    /// EtherType of the payload after any VLAN headers (e.g. 0x0800 for IPv4), network byte
    /// order.
    pub ether_type: u16,
    /// VLAN TCI (PCP/DEI/VID) of the outermost tag at this hop, host byte order; 0 without a
    /// tag. See [`vlan_source`](Self::vlan_source).
    pub vlan_tci: u16,
    /// TPID of that tag (0x8100 or 0x88a8), host byte order; 0 without a tag.
    pub vlan_proto: u16,
    /// Bitset of [`event_flags`].
    pub flags: u16,
    /// IPv4 identification field, network byte order. Valid with [`event_flags::IPV4`].
    pub ip_id: u16,
    /// BOOTP `secs` field, network byte order: grows with each retransmission, so it tells
    /// retransmitted DHCP messages (same `xid`) apart. Valid with [`event_flags::DHCP`].
    pub dhcp_secs: u16,
    /// Bytes of [`EventRecord::snapshot`] that hold packet data (0 when snapshots are off).
    pub snapshot_len: u16,
    /// Which hook produced the event, a [`Hook`] value.
    pub hook: u8,
    /// A [`VlanSource`] value.
    pub vlan_source: u8,
    /// IP protocol number (17 UDP, 6 TCP, 1 ICMP, 58 ICMPv6); 0 when not IP.
    pub ip_proto: u8,
    /// DHCP message type (option 53: 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK, ...); 0 when the
    /// packet is not DHCP or the option was not found in the bytes the kernel scans.
    pub dhcp_msg_type: u8,
    /// BOOTP op code (1 request, 2 reply). Valid with [`event_flags::DHCP`].
    pub bootp_op: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 7],
    /// Open vSwitch datapath details (`Ovs*` hooks), zero otherwise.
    pub ovs: OvsSection,
    /// Outer headers of an encapsulated packet, zero otherwise.
    pub tunnel: TunnelSection,
    /// CPU that ran the hook: events of one packet on one CPU are in timestamp order, which
    /// helps when two hooks report the same nanosecond.
    pub cpu: u32,
}

// No implicit holes: each section starts where the previous field ended.
// The eBPF side clears saddr, daddr and l4_head as one 40-byte, 4-aligned run.
const _: () = assert!(core::mem::offset_of!(PacketEvent, saddr) == 44);
const _: () = assert!(core::mem::offset_of!(PacketEvent, daddr) == 60);
const _: () = assert!(core::mem::offset_of!(PacketEvent, l4_head) == 76);
const _: () = assert!(core::mem::offset_of!(PacketEvent, ovs) == 128);
const _: () = assert!(core::mem::offset_of!(PacketEvent, tunnel) == 140);
const _: () = assert!(core::mem::offset_of!(PacketEvent, cpu) == 180);
const _: () = assert!(core::mem::size_of::<PacketEvent>() == 184);
const _: () = assert!(core::mem::align_of::<PacketEvent>() == 8);

/// Seed and multiplier of the fingerprint mix (the 64-bit golden ratio, as in splitmix64).
const FP_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const FP_MUL: u64 = 0xbf58_476d_1ce4_e5b9;

#[inline(always)]
fn fp_mix(h: u64, word: u64) -> u64 {
    let h = (h ^ word).wrapping_mul(FP_MUL);
    h ^ (h >> 31)
}

#[inline(always)]
fn le_u64(b: &[u8; 8]) -> u64 {
    u64::from_le_bytes(*b)
}

#[inline(always)]
fn half(a: &[u8; 16], upper: bool) -> u64 {
    let o = if upper { 8 } else { 0 };
    u64::from_le_bytes([
        a[o],
        a[o + 1],
        a[o + 2],
        a[o + 3],
        a[o + 4],
        a[o + 5],
        a[o + 6],
        a[o + 7],
    ])
}

#[inline(always)]
fn mac_u64(m: &[u8; 6]) -> u64 {
    u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0])
}

impl PacketEvent {
    /// The packet's identity, computed by userspace from each event's fields (and computable
    /// from a capture taken elsewhere, to join hosts).
    ///
    /// It hashes only fields that survive the whole virtual path: VLAN push/pop, veth and netns
    /// crossings, bridge floods (clones), OVS actions that do not rewrite them, encapsulation
    /// (the inner packet is hashed, so the underlay hop matches the overlay ones) and routing
    /// (no MAC, no TTL, no checksum that offload may fill in late):
    ///
    /// * IPv4/IPv6: source and destination address, protocol, the IPv4 identification, and
    ///   - TCP: ports and sequence number;
    ///   - UDP: ports and length; for DHCP also `xid`, `secs` and the message type (dhclient
    ///     sends IP id 0, and a retransmission keeps the `xid`);
    ///   - ICMP/ICMPv6: type, code, checksum, identifier and sequence;
    ///   - non-first fragments: only the IP fields (fragments are separate packets).
    /// * Anything else (ARP, LLDP, ...): source and destination MAC, EtherType, and the first 8
    ///   payload bytes.
    ///
    /// Words are mixed with a splitmix64-style multiply/xor-shift; equal inputs give equal
    /// fingerprints on any host and kernel. Two packets with identical fields (e.g. two UDP
    /// datagrams of one IPv6 flow and of the same length) collide; userspace separates them by
    /// time and `skb_addr`.
    #[inline(always)]
    pub fn compute_fingerprint(&self) -> u64 {
        let ip = self.flags & (event_flags::IPV4 | event_flags::IPV6) != 0;
        let mut h = FP_SEED;
        if ip {
            h = fp_mix(h, half(&self.saddr, false));
            h = fp_mix(h, half(&self.saddr, true));
            h = fp_mix(h, half(&self.daddr, false));
            h = fp_mix(h, half(&self.daddr, true));
            h = fp_mix(h, (self.ip_proto as u64) << 16 | self.ip_id as u64);
            if self.flags & event_flags::L4 != 0 {
                let l4 = le_u64(&self.l4_head);
                let kept = match self.ip_proto {
                    // Ports and length; not the checksum (offload may fill it in later).
                    17 => l4 & 0x0000_ffff_ffff_ffff,
                    6 | 1 | 58 => l4,
                    _ => 0,
                };
                h = fp_mix(h, kept);
            }
            if self.flags & event_flags::DHCP != 0 {
                h = fp_mix(
                    h,
                    (self.dhcp_xid as u64) << 32
                        | (self.dhcp_secs as u64) << 16
                        | self.dhcp_msg_type as u64,
                );
            }
        } else {
            h = fp_mix(h, mac_u64(&self.src_mac));
            h = fp_mix(h, mac_u64(&self.dst_mac));
            h = fp_mix(h, self.ether_type as u64);
            if self.flags & event_flags::L4 != 0 {
                h = fp_mix(h, le_u64(&self.l4_head));
            }
        }
        if h == 0 {
            1
        } else {
            h
        }
    }
}

/// One ring buffer record: the event and a snapshot of the packet, in a snapshot area of `N`
/// bytes, `N` one of [`SNAPSHOT_CLASSES`].
///
/// The kernel side reserves the smallest class that holds the snapshot it takes, because the
/// reservation size (a verifier constant) is what each event costs in ring buffer space and
/// cache lines: a 100-byte packet takes a 128-byte area, not 512. Userspace therefore reads a
/// record as a [`PacketEvent`] followed by [`PacketEvent::snapshot_len`] bytes, and never
/// assumes a record size.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EventRecord<const N: usize> {
    /// What was seen and where.
    pub event: PacketEvent,
    /// The first [`PacketEvent::snapshot_len`] bytes of the packet from its Ethernet header, as
    /// they are at this hook (an out-of-band VLAN tag is not in them; see
    /// [`PacketEvent::vlan_source`]). Lets userspace decode options and write pcapng. The rest is
    /// unspecified.
    pub snapshot: [u8; N],
}

/// Snapshot area sizes a record can have (see [`EventRecord`]): none, then powers of two up to
/// [`SNAPSHOT_MAX`].
pub const SNAPSHOT_CLASSES: [usize; 5] = [0, 64, 128, 256, SNAPSHOT_MAX];

/// Offset of the snapshot in every record class.
pub const SNAPSHOT_OFFSET: usize = core::mem::size_of::<PacketEvent>();

const _: () = assert!(core::mem::size_of::<EventRecord<0>>() == 184);
const _: () = assert!(core::mem::size_of::<EventRecord<SNAPSHOT_MAX>>() == 184 + SNAPSHOT_MAX);
const _: () = assert!(core::mem::offset_of!(EventRecord<64>, snapshot) == SNAPSHOT_OFFSET);

/// Bits of [`Filter::flags`]: each enabled criterion must match for a packet to be reported.
///
/// A tunnelled packet matches if its outer headers or its inner packet match every enabled
/// criterion (criteria are not mixed across the two layers), so `--filter-mac VM` still finds
/// the VM's packets on the underlay NIC. The VLAN criterion applies to the tag at the hop.
pub mod filter_flags {
    /// Match packets whose Ethernet source or destination, or DHCP `chaddr`, equals
    /// [`super::Filter::mac`].
    pub const MAC: u32 = 1 << 0;
    /// Match only DHCP/BOOTP packets (UDP with source and destination port 67 or 68).
    pub const DHCP: u32 = 1 << 1;
    /// Report drops (`kfree_skb` with a drop reason) of matching packets.
    pub const DROPS: u32 = 1 << 2;
    /// Match packets whose VLAN id at the hop equals [`super::Filter::vlan_id`].
    pub const VLAN: u32 = 1 << 3;
    /// Match packets whose IP source or destination equals [`super::Filter::addr`].
    pub const ADDR: u32 = 1 << 4;
    /// Match packets whose IP protocol equals [`super::Filter::ip_proto`].
    pub const PROTO: u32 = 1 << 5;
    /// Match TCP/UDP packets whose source or destination port equals [`super::Filter::port`].
    pub const PORT: u32 = 1 << 6;
    /// With [`MAC`] and [`ADDR`]: a packet matches if either does, not both. A routed packet
    /// keeps its addresses but not its sender's MAC.
    pub const MAC_OR_ADDR: u32 = 1 << 7;
    /// With [`MAC`]: also match IP packets from or to the MAC's own address, learned in the
    /// kernel from the first unicast IPv4 (and IPv6) packet whose Ethernet source is the MAC and
    /// kept in [`super::SENDER_GLOBAL`]. Past a router a packet keeps its sender's address but not
    /// its MAC; the hook on the sender's link learns it before the packet gets there, so even
    /// a first packet is followed through routers without its destination known beforehand.
    pub const LEARN_SENDER: u32 = 1 << 8;
}

/// The traced MAC's own addresses, as learned by the probes ([`filter_flags::LEARN_SENDER`]):
/// each family's first unicast source address seen with the MAC, network byte order; all zero
/// until one is learned (no such address is ever learned). Aligned so that the probes compare
/// it in words.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnedSender {
    pub v6: [u8; 16],
    pub v4: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<LearnedSender>() == 20);
const _: () = assert!(core::mem::align_of::<LearnedSender>() == 4);

/// What to report, set by userspace in `.rodata` before the programs are loaded, so the verifier
/// sees constants and prunes the checks of criteria that are off.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// Bitset of [`filter_flags`]; 0 reports every packet.
    pub flags: u32,
    /// MAC address for [`filter_flags::MAC`].
    pub mac: [u8; 6],
    /// VLAN id (12 bits) for [`filter_flags::VLAN`].
    pub vlan_id: u16,
    /// IP address for [`filter_flags::ADDR`]: IPv4 in the first 4 bytes (rest zero) when
    /// `addr_ipv6` is 0, else IPv6; network byte order.
    pub addr: [u8; 16],
    /// Port for [`filter_flags::PORT`], network byte order.
    pub port: u16,
    /// Bytes of each packet to copy into [`EventRecord::snapshot`], at most [`SNAPSHOT_MAX`].
    pub snapshot_len: u16,
    /// IP protocol for [`filter_flags::PROTO`].
    pub ip_proto: u8,
    /// 1 if `addr` is IPv6.
    pub addr_ipv6: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<Filter>() == 36);
// The TC programs compare `mac` as a 32-bit and a 16-bit word.
const _: () = assert!(core::mem::offset_of!(Filter, mac) % 4 == 0);
const _: () = assert!(core::mem::align_of::<Filter>() == 4);

/// Offset value meaning "this field does not exist on the running kernel".
pub const OFFSET_UNAVAILABLE: u16 = u16::MAX;

/// Byte offsets of kernel structure fields that the probes read with `bpf_probe_read_kernel`.
///
/// aya has no CO-RE relocations, so userspace resolves these from the running kernel's BTF
/// (`/sys/kernel/btf/vmlinux`, and `/sys/kernel/btf/openvswitch` for the module's structures) and
/// passes them in `.rodata`: nothing about kernel struct layout is compiled into the eBPF object.
/// A field that is missing is [`OFFSET_UNAVAILABLE`] and the probe leaves the matching event
/// field at zero.
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
    /// `head` on 64-bit kernels). Bounds the packet bytes the kernel-memory probes read.
    pub skb_tail: u16,
    /// Open vSwitch `struct vport`: `dev` (`struct net_device *`), from the module's BTF.
    pub vport_dev: u16,
    /// Open vSwitch `struct vport`: `port_no` (`u16`), from the module's BTF.
    pub vport_port_no: u16,
}

const _: () = assert!(core::mem::size_of::<KernelOffsets>() == 28);

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
        vport_dev: OFFSET_UNAVAILABLE,
        vport_port_no: OFFSET_UNAVAILABLE,
    };
}

/// Byte offsets of fields in the records of classic tracepoints, read by userspace from each
/// tracepoint's tracefs `format` file (they move between kernels: `skb:kfree_skb` gained
/// `rx_sk` in 6.10). [`OFFSET_UNAVAILABLE`] when the tracepoint or field does not exist.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TracepointOffsets {
    /// `skb:kfree_skb`: `skbaddr`.
    pub kfree_skb_skbaddr: u16,
    /// `skb:kfree_skb`: `reason` (kernels >= 5.17).
    pub kfree_skb_reason: u16,
    /// `openvswitch:ovs_do_execute_action`: `skbaddr`.
    pub ovs_action_skbaddr: u16,
    /// `openvswitch:ovs_do_execute_action`: `action_type` (`u8`).
    pub ovs_action_type: u16,
    /// `openvswitch:ovs_do_execute_action`: `action_data` (pointer to the action's attribute
    /// payload).
    pub ovs_action_data: u16,
    /// `openvswitch:ovs_do_execute_action`: `action_len` (`unsigned int`).
    pub ovs_action_len: u16,
    /// `openvswitch:ovs_dp_upcall`: `skbaddr`.
    pub ovs_upcall_skbaddr: u16,
    /// `openvswitch:ovs_dp_upcall`: `upcall_cmd` (`u8`).
    pub ovs_upcall_cmd: u16,
    /// `openvswitch:ovs_dp_upcall`: `upcall_port` (`u32`).
    pub ovs_upcall_port: u16,
    /// Explicit padding; always zero.
    pub _pad: u16,
}

const _: () = assert!(core::mem::size_of::<TracepointOffsets>() == 20);

impl TracepointOffsets {
    /// Every field unavailable.
    pub const UNAVAILABLE: Self = Self {
        kfree_skb_skbaddr: OFFSET_UNAVAILABLE,
        kfree_skb_reason: OFFSET_UNAVAILABLE,
        ovs_action_skbaddr: OFFSET_UNAVAILABLE,
        ovs_action_type: OFFSET_UNAVAILABLE,
        ovs_action_data: OFFSET_UNAVAILABLE,
        ovs_action_len: OFFSET_UNAVAILABLE,
        ovs_upcall_skbaddr: OFFSET_UNAVAILABLE,
        ovs_upcall_cmd: OFFSET_UNAVAILABLE,
        ovs_upcall_port: OFFSET_UNAVAILABLE,
        _pad: 0,
    };
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: all are #[repr(C)], contain only integers and byte arrays, have explicit padding
    // fields and no implicit holes (sizes asserted above), so any bit pattern is valid.
    unsafe impl aya::Pod for super::PacketEvent {}
    unsafe impl aya::Pod for super::Filter {}
    unsafe impl aya::Pod for super::KernelOffsets {}
    unsafe impl aya::Pod for super::TracepointOffsets {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_request(seq: u8) -> PacketEvent {
        // SAFETY: all-zero is a valid PacketEvent.
        let mut ev: PacketEvent = unsafe { core::mem::zeroed() };
        ev.flags = event_flags::IPV4 | event_flags::L4;
        ev.saddr[..4].copy_from_slice(&[10, 0, 0, 1]);
        ev.daddr[..4].copy_from_slice(&[10, 0, 0, 2]);
        ev.ip_proto = 1;
        ev.ip_id = 0x1234;
        ev.l4_head = [8, 0, 0xab, 0xcd, 0, 7, 0, seq];
        ev.src_mac = [2, 0, 0, 0, 0, 1];
        ev
    }

    #[test]
    fn fingerprint_survives_vlan_mac_and_tunnel_changes() {
        let a = echo_request(1);
        let mut b = a;
        // What changes between hops: tag pushed, routed (MACs), encapsulated, other skb.
        b.vlan_tci = 1000;
        b.vlan_source = VlanSource::Accelerated as u8;
        b.src_mac = [2, 0, 0, 0, 0, 9];
        b.dst_mac = [2, 0, 0, 0, 0, 8];
        b.flags |= event_flags::TUNNEL;
        b.tunnel.vni = 42;
        b.skb_addr = 0xffff_8880_0000_1000;
        b.len = 148;
        assert_eq!(a.compute_fingerprint(), b.compute_fingerprint());
    }

    #[test]
    fn fingerprint_tells_packets_apart() {
        let first = echo_request(1).compute_fingerprint();
        assert_ne!(first, echo_request(2).compute_fingerprint());
        let mut reply = echo_request(1);
        reply.l4_head[0] = 0;
        assert_ne!(first, reply.compute_fingerprint());
        let mut dhcp = echo_request(1);
        dhcp.ip_proto = 17;
        dhcp.flags |= event_flags::DHCP;
        dhcp.dhcp_xid = 7;
        let mut retransmit = dhcp;
        retransmit.dhcp_secs = 3u16.to_be();
        assert_ne!(dhcp.compute_fingerprint(), retransmit.compute_fingerprint());
    }

    #[test]
    fn udp_checksum_is_not_part_of_the_identity() {
        let mut a = echo_request(1);
        a.ip_proto = 17;
        let mut b = a;
        b.l4_head[6] ^= 0xff;
        assert_eq!(a.compute_fingerprint(), b.compute_fingerprint());
    }
}
