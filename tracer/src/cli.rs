//! Command line. Flags follow pwru's `--filter-*` / `--output-*` style where they filter or
//! shape output. Only `main` and the commands (`cmd/`) read it; it turns flags into the
//! option types of the stages below.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use tracer_common::wire::{ip_proto, DEFAULT_RING_BUFFER_BYTES};

use crate::{
    mac::Mac,
    output::Format,
    probes::{AttachMode, FilterSpec},
};

#[derive(Parser, Debug)]
#[command(
    name = "pathtrace",
    version,
    about = "Follow packets through a virtualised host's datapath with eBPF",
    args_conflicts_with_subcommands = true,
    after_help = "Example: pathtrace --dhcp fa:16:3e:fe:c7:87   (exit 0 delivered, 1 stopped or unseen, 2 error)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Follow the DHCP exchange of this MAC (a VM NIC, an OVS port's attached-mac or a link's
    /// MAC) to its DHCP server and back, and say where it stops.
    #[arg(long, value_name = "MAC")]
    pub dhcp: Option<Mac>,

    /// Give up waiting after this many seconds (default 60); the exchange ends it earlier.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Stop after this many packets.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    #[command(flatten)]
    pub journey: JourneyArgs,
}

/// How a journey is reported, live or replayed.
#[derive(Args, Debug, Clone, Default)]
pub struct ReportArgs {
    /// Print the journey as one JSON document (see README).
    #[arg(long)]
    pub json: bool,

    /// Print every event of every packet as a table in path order, benign drops included.
    #[arg(short, long)]
    pub verbose: bool,

    /// Also write every captured packet to this pcapng file, one interface per hop.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Also draw the path over the host's topology, the packets' route on it and where they
    /// stopped, as SVG (rendered with graphviz's `dot`).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// The same drawing as Graphviz DOT source.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
}

/// Options of the journey commands (`pathtrace --dhcp MAC`, `pathtrace trace --mac MAC`).
#[derive(Args, Debug, Clone)]
pub struct JourneyArgs {
    #[command(flatten)]
    pub report: ReportArgs,

    /// Also write what was seen and the topology before and after to FILE, to judge it again
    /// elsewhere with `pathtrace replay FILE` (or attach it to a bug report).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    #[command(flatten)]
    pub discovery: DiscoveryArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Attach probes to interfaces and print every matching packet at every hop.
    Trace(TraceArgs),
    /// Discover the host's virtual network (every namespace, OVS, libvirt, dnsmasq) and print it.
    Topology(TopologyArgs),
    /// Print the path a packet from MAC is expected to take, hop by hop.
    Path(PathArgs),
    /// Judge a journey recorded with `--record FILE` again: no probes, no privileges needed.
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A file written by `pathtrace --dhcp MAC --record FILE` or `trace --mac MAC --record FILE`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub report: ReportArgs,
}

/// Where discovery looks, shared by every command that discovers.
#[derive(Args, Debug, Clone)]
pub struct DiscoveryArgs {
    /// OVSDB socket (PATH or unix:PATH). Default: $OVS_RUNDIR/db.sock, /run/openvswitch/db.sock,
    /// ... A socket given here must work; a missing default means "no OVS here".
    #[arg(long, value_name = "SOCKET")]
    pub ovsdb: Option<String>,

    /// libvirt domain XML file or directory (repeatable). Default: /run/libvirt/qemu and
    /// /var/lib/nova/instances.
    #[arg(long = "libvirt-xml", value_name = "PATH")]
    pub libvirt_xml: Vec<PathBuf>,

    /// Neutron DHCP agent state directory: for a `qdhcp-<network>` namespace where no dnsmasq
    /// runs, its `<network>/host` and `<network>/interface` still say where the server
    /// should listen and which address the MAC should get.
    #[arg(long, value_name = "DIR", default_value = crate::topology::NEUTRON_DHCP_DIR)]
    pub neutron_dhcp_dir: PathBuf,

    /// libvirt's dnsmasq configuration directory: for a network whose dnsmasq is not running,
    /// its `<network>.conf` says where the server should listen and which address the MAC
    /// should get.
    #[arg(long, value_name = "DIR", default_value = crate::topology::LIBVIRT_DNSMASQ_DIR)]
    pub libvirt_dnsmasq_dir: PathBuf,

    /// OVN Northbound database (unix:PATH or tcp:HOST:PORT; ssl is not supported yet).
    /// Default: $OVN_RUNDIR/ovnnb_db.sock, /run/ovn/ovnnb_db.sock, ... A database given here
    /// must answer.
    #[arg(long = "ovn-nb", value_name = "REMOTE")]
    pub ovn_nb: Option<String>,

    /// OVN Southbound database. Default: /run/ovn/ovnsb_db.sock, ..., else the chassis'
    /// `external_ids:ovn-remote` (where ovn-controller reads it).
    #[arg(long = "ovn-sb", value_name = "REMOTE")]
    pub ovn_sb: Option<String>,
}

impl DiscoveryArgs {
    pub fn options(&self) -> crate::topology::Options {
        crate::topology::Options {
            ovsdb: self.ovsdb.clone(),
            libvirt_xml: self.libvirt_xml.clone(),
            neutron_dhcp_dir: self.neutron_dhcp_dir.clone(),
            libvirt_dnsmasq_dir: self.libvirt_dnsmasq_dir.clone(),
            ovn_nb: self.ovn_nb.clone(),
            ovn_sb: self.ovn_sb.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TopologyFormat {
    /// Indented tree per namespace, bridge and port, like the hand-drawn diagrams.
    Tree,
    /// The whole graph as one JSON document (see README).
    Json,
    /// Graphviz DOT (`| dot -Tsvg > topo.svg`).
    Dot,
}

#[derive(Args, Debug)]
pub struct TopologyArgs {
    #[arg(long, value_enum, default_value = "tree")]
    pub format: TopologyFormat,

    /// Only this namespace (an `ip netns` name, `root`, or `pid:PID`).
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,

    #[command(flatten)]
    pub discovery: DiscoveryArgs,
}

#[derive(Args, Debug)]
pub struct PathArgs {
    /// The MAC whose packets to follow: a VM NIC, an OVS port's attached-mac or a link's MAC.
    #[arg(long, value_name = "MAC")]
    pub mac: Mac,

    /// End the path at the DHCP server that should answer this MAC.
    #[arg(long, conflicts_with = "to")]
    pub dhcp: bool,

    /// End the path at this interface ([NETNS:]IFNAME). Without --to, --dhcp or --dst: where
    /// a frame from the MAC can go (its layer-2 domain and the routers on it).
    #[arg(long, value_name = "[NETNS:]IFNAME")]
    pub to: Option<String>,

    /// The path of packets to this address: to the link on this host that owns it, or out
    /// where the host's routes send it.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["dhcp", "to"])]
    pub dst: Option<std::net::IpAddr>,

    /// Output format.
    #[arg(long = "output", value_enum, default_value = "text")]
    pub output: Format,

    #[command(flatten)]
    pub discovery: DiscoveryArgs,
}

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Interface to watch: IFNAME (this namespace), NETNS:IFNAME, or NETNS:* for every
    /// interface of a namespace. NETNS is an `ip netns` name or a path such as
    /// /proc/PID/ns/net. Repeat for each hop.
    /// Without it, `--mac` follows the MAC along its expected path (attached where the
    /// discovered topology says), with a verdict at the end.
    #[arg(
        short,
        long = "interface",
        value_name = "[NETNS:]IFNAME",
        required_unless_present = "mac"
    )]
    pub interfaces: Vec<String>,

    /// With --mac and no --interface: only ICMP (ping) packets.
    #[arg(long, conflicts_with_all = ["dhcp", "tcp", "udp", "proto"])]
    pub icmp: bool,

    /// Only TCP segments (`--filter-proto tcp`).
    #[arg(long, conflicts_with_all = ["dhcp", "udp", "proto"])]
    pub tcp: bool,

    /// Only UDP datagrams (`--filter-proto udp`).
    #[arg(long, conflicts_with_all = ["dhcp", "proto"])]
    pub udp: bool,

    /// With --mac: where the packets go (an IPv4 or IPv6 address). The path ends at the link
    /// on this host that owns it, or leaves where the host's routes send it. Without it, the
    /// first packet says: pathtrace watches everywhere a frame from the MAC can go (its
    /// layer-2 domain and the routers on it) from before that packet, and judges it too.
    #[arg(long, value_name = "ADDR", requires = "mac", conflicts_with = "dhcp")]
    pub dst: Option<std::net::IpAddr>,

    #[command(flatten)]
    pub journey: JourneyArgs,

    /// Only packets from or to this MAC, or DHCP packets whose client hardware address it is.
    #[arg(long = "filter-mac", visible_alias = "mac", value_name = "MAC")]
    pub mac: Option<Mac>,

    /// Only DHCP/BOOTP packets (UDP port 67/68).
    #[arg(long = "filter-dhcp", visible_alias = "dhcp")]
    pub dhcp: bool,

    /// Only packets carrying this VLAN id at the hop (accelerated tag or 802.1Q/QinQ header).
    #[arg(long = "filter-vlan", value_name = "VID", value_parser = clap::value_parser!(u16).range(0..4096))]
    pub vlan: Option<u16>,

    /// Only packets from or to this IPv4 or IPv6 address.
    #[arg(long = "filter-host", value_name = "ADDR")]
    pub host: Option<std::net::IpAddr>,

    /// With --filter-mac and --filter-host: a packet matches by either (a routed packet keeps
    /// its addresses, not its sender's MAC).
    #[arg(long, requires_all = ["mac", "host"])]
    pub filter_mac_or_host: bool,

    /// With --filter-mac: also the MAC's own addresses, learned by the probes from its first
    /// packets (what `trace --mac` without `--dst` does; for benchmarks).
    #[arg(long, requires = "mac", hide = true)]
    pub filter_learn_sender: bool,

    /// Only this IP protocol: udp, tcp, icmp, icmpv6 or a number.
    #[arg(long = "filter-proto", value_name = "PROTO", value_parser = parse_proto)]
    pub proto: Option<u8>,

    /// Only TCP/UDP packets with this source or destination port.
    #[arg(long = "filter-port", value_name = "PORT")]
    pub port: Option<u16>,

    /// Do not report packets dropped by the kernel (kfree_skb).
    #[arg(long)]
    pub no_drops: bool,

    /// Which kfree_skb hook reports drops.
    #[arg(long, value_enum, default_value = "auto")]
    pub drop_hook: crate::probes::DropHook,

    /// Do not attach the Open vSwitch datapath hooks (kprobes and tracepoints).
    #[arg(long)]
    pub no_ovs: bool,

    /// Bytes of each matching packet to capture (0 to 512).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(0..=tracer_common::SNAPSHOT_MAX as i64))]
    pub snapshot_len: u16,

    /// Print the captured bytes (hex) with each event.
    #[arg(long)]
    pub output_snapshot: bool,

    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Output format.
    #[arg(long = "output", value_enum, default_value = "text")]
    pub output: Format,

    /// How TC programs are attached.
    #[arg(long, value_enum, default_value = "auto")]
    pub tc_attach: AttachMode,

    /// Size of the events ring buffer in bytes (a power of two, at least one page).
    #[arg(long, default_value_t = DEFAULT_RING_BUFFER_BYTES, value_parser = parse_ring_size)]
    pub ring_buffer_size: u32,

    /// Kernel BTF to read offsets and drop reason names from.
    #[arg(long, default_value = crate::kernel::btf::VMLINUX_BTF, hide = true)]
    pub btf: PathBuf,
}

impl TraceArgs {
    /// The `--filter-*` flags (and `--no-drops`, `--snapshot-len`) as the kernel filter spec.
    pub fn filter_spec(&self) -> FilterSpec {
        FilterSpec {
            mac: self.mac,
            dhcp: self.dhcp,
            vlan: self.vlan,
            host: self.host,
            proto: if self.tcp {
                Some(ip_proto::TCP)
            } else if self.udp {
                Some(ip_proto::UDP)
            } else {
                self.proto
            },
            port: self.port,
            drops: !self.no_drops,
            snapshot_len: self.snapshot_len,
            mac_or_host: self.filter_mac_or_host,
            learn_sender: self.filter_learn_sender,
        }
    }
}

fn parse_proto(s: &str) -> Result<u8, String> {
    match s.to_ascii_lowercase().as_str() {
        "icmp" => Ok(ip_proto::ICMP),
        "tcp" => Ok(ip_proto::TCP),
        "udp" => Ok(ip_proto::UDP),
        "icmpv6" | "ipv6-icmp" => Ok(ip_proto::ICMPV6),
        other => other
            .parse()
            .map_err(|_| format!("unknown protocol '{s}' (udp, tcp, icmp, icmpv6 or 0-255)")),
    }
}

/// The longest `--timeout`: a trace is a diagnosis, not a service.
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Seconds, fractions allowed: more than 0, at most [`MAX_TIMEOUT`].
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT.as_secs_f64()) {
        return Err(format!(
            "'{s}' is not between 0 and {} seconds (a week)",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The largest ring buffer pathtrace asks for: it is locked kernel memory.
const MAX_RING_BUFFER_BYTES: u32 = 1 << 30;

fn parse_ring_size(s: &str) -> Result<u32, String> {
    let v: u32 = s.parse().map_err(|e| format!("{e}"))?;
    if !v.is_power_of_two() || !(4096..=MAX_RING_BUFFER_BYTES).contains(&v) {
        return Err(format!(
            "{v} is not a power of two from 4096 to {MAX_RING_BUFFER_BYTES}"
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        assert_eq!(parse_proto("UDP"), Ok(17));
        assert_eq!(parse_proto("icmpv6"), Ok(58));
        assert_eq!(parse_proto("47"), Ok(47));
        assert!(parse_proto("gre2").is_err());
    }

    #[test]
    fn timeouts_are_positive_finite_and_bounded() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["-1", "0", "nan", "NaN", "inf", "1e20", "", "soon"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
        let err =
            Cli::try_parse_from(["pathtrace", "--dhcp", "fa:16:3e:fe:c7:87", "--timeout=nan"])
                .unwrap_err()
                .to_string();
        assert!(err.contains("not between 0 and"), "{err}");
    }

    #[test]
    fn ring_sizes() {
        assert_eq!(parse_ring_size("4096"), Ok(4096));
        assert!(parse_ring_size("5000").is_err());
        assert!(parse_ring_size("1024").is_err());
        assert_eq!(parse_ring_size("1073741824"), Ok(1 << 30));
        assert!(parse_ring_size("2147483648").is_err());
    }

    #[test]
    fn bad_mac_is_a_usage_error() {
        let err = Cli::try_parse_from(["pathtrace", "trace", "-i", "lo", "--mac", "zz"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid MAC address 'zz'"), "{err}");
    }
}
