//! Reads the running kernel's BTF (`/sys/kernel/btf/vmlinux`, and module BTF for names defined
//! in modules) for the two things pathtrace must not hard-code: structure field offsets the
//! probes read, and the names of `enum skb_drop_reason` values, whose numbers change between
//! kernels.

use std::{collections::BTreeMap, path::Path};

use anyhow::{bail, Context as _, Result};
use btf_rs::{Btf, Type};
use tracer_common::{KernelOffsets, OFFSET_UNAVAILABLE};

pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Directory of per-module BTF (split on top of vmlinux's).
const MODULE_BTF_DIR: &str = "/sys/kernel/btf";
/// Largest BTF file read: vmlinux's is 5-7 MiB on distribution kernels; `--btf` may name any file.
const BTF_MAX_BYTES: u64 = 128 << 20;

/// The running kernel's BTF, plus the Open vSwitch module's when it is loaded.
pub struct KernelBtf {
    btf: Btf,
    /// `/sys/kernel/btf/openvswitch`: `struct vport` and `enum ovs_drop_reason` live there.
    openvswitch: Option<Btf>,
}

impl KernelBtf {
    #[cfg(test)]
    pub fn load() -> Result<Self> {
        Self::from_file(Path::new(VMLINUX_BTF))
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.exists() {
            bail!(
                "kernel has no BTF ({} is missing): pathtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
                path.display()
            );
        }
        let btf = Btf::from_bytes(&read_bounded(path)?)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot parse kernel BTF {}", path.display()))?;
        let module = path
            .parent()
            .unwrap_or(Path::new(MODULE_BTF_DIR))
            .join("openvswitch");
        // Absent when the module is not loaded; then the OVS probes are inactive anyway.
        let openvswitch = module
            .exists()
            .then(|| Btf::from_split_bytes(&read_bounded(&module).ok()?, &btf).ok())
            .flatten();
        Ok(Self { btf, openvswitch })
    }

    /// Byte offset of `path` (e.g. `["ns", "inum"]`) inside `struct name`, descending into
    /// anonymous unions/structs and named nested structs. `None` if any step is missing or is a
    /// bitfield.
    pub fn field_offset(&self, name: &str, path: &[&str]) -> Option<u32> {
        field_offset_in(&self.btf, name, path)
    }

    /// Offsets for [`KernelOffsets`]; a field the kernel lacks becomes [`OFFSET_UNAVAILABLE`].
    pub fn offsets(&self) -> KernelOffsets {
        let off = |s: &str, p: &[&str]| {
            self.field_offset(s, p)
                .and_then(|o| u16::try_from(o).ok())
                .unwrap_or(OFFSET_UNAVAILABLE)
        };
        KernelOffsets {
            skb_dev: off("sk_buff", &["dev"]),
            skb_head: off("sk_buff", &["head"]),
            skb_len: off("sk_buff", &["len"]),
            skb_mac_header: off("sk_buff", &["mac_header"]),
            skb_network_header: off("sk_buff", &["network_header"]),
            skb_protocol: off("sk_buff", &["protocol"]),
            skb_vlan_tci: off("sk_buff", &["vlan_tci"]),
            skb_vlan_proto: off("sk_buff", &["vlan_proto"]),
            dev_ifindex: off("net_device", &["ifindex"]),
            dev_nd_net: off("net_device", &["nd_net"]),
            net_inum: off("net", &["ns", "inum"]),
            skb_tail: off("sk_buff", &["tail"]),
            vport_dev: self.vport_offset("dev"),
            vport_port_no: self.vport_offset("port_no"),
        }
    }

    /// `enum ovs_action_attr` value -> lower-case name without prefix (`output`, `push_vlan`),
    /// empty without the module.
    pub fn ovs_actions(&self) -> BTreeMap<u32, String> {
        let mut raw = BTreeMap::new();
        if let Some(ovs) = &self.openvswitch {
            enum_members(ovs, "ovs_action_attr", &mut raw);
        }
        raw.into_iter()
            .filter_map(|(v, n)| {
                let short = n.strip_prefix("OVS_ACTION_ATTR_")?;
                Some((v, short.to_ascii_lowercase()))
            })
            .collect()
    }

    fn vport_offset(&self, field: &str) -> u16 {
        self.openvswitch
            .as_ref()
            .and_then(|b| field_offset_in(b, "vport", &[field]))
            .and_then(|o| u16::try_from(o).ok())
            .unwrap_or(OFFSET_UNAVAILABLE)
    }

    /// Value -> name of every `enum skb_drop_reason` member, with the `SKB_DROP_REASON_` prefix
    /// removed (`NETFILTER_DROP`, `OVS_DROP_...`).
    /// Open vSwitch's own reasons (`OVS_DROP_*`, `1 << 16 | n`) come from the module's BTF.
    pub fn drop_reasons(&self) -> BTreeMap<u32, String> {
        let mut names = BTreeMap::new();
        enum_members(&self.btf, "skb_drop_reason", &mut names);
        if let Some(ovs) = &self.openvswitch {
            enum_members(ovs, "ovs_drop_reason", &mut names);
        }
        names
    }
}

/// The whole file, read at once: btf-rs asks a file reader for its position after every type,
/// one `lseek` each (~150,000 for vmlinux), where a buffer in memory answers for free.
fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(BTF_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > BTF_MAX_BYTES {
        bail!(
            "{} is larger than {} MiB: not a kernel's BTF",
            path.display(),
            BTF_MAX_BYTES >> 20
        );
    }
    Ok(bytes)
}

/// Adds every member of `enum name` to `out`, without the `SKB_DROP_REASON_`/`SKB_` prefix and
/// skipping internal markers (`__...`).
fn enum_members(btf: &Btf, name: &str, out: &mut BTreeMap<u32, String>) {
    for ty in btf.resolve_types_by_name(name).unwrap_or_default() {
        if let Type::Enum(e) = ty {
            for m in &e.members {
                if let Ok(name) = btf.resolve_name(m) {
                    if name.starts_with("__") {
                        continue;
                    }
                    let short = name
                        .strip_prefix("SKB_DROP_REASON_")
                        .or_else(|| name.strip_prefix("SKB_"))
                        .unwrap_or(&name);
                    out.insert(m.val(), short.to_string());
                }
            }
        }
    }
}

/// Byte offset of `path` inside `struct name` of `btf` (see [`KernelBtf::field_offset`]).
fn field_offset_in(btf: &Btf, name: &str, path: &[&str]) -> Option<u32> {
    let mut ty = struct_by_name(btf, name)?;
    let mut offset_bits = 0u32;
    for (i, field) in path.iter().enumerate() {
        let (member_off, member_ty) = find_member(btf, &ty, field)?;
        offset_bits += member_off;
        if i + 1 < path.len() {
            ty = skip_modifiers(btf, member_ty)?;
        }
    }
    offset_bits.is_multiple_of(8).then_some(offset_bits / 8)
}

fn struct_by_name(btf: &Btf, name: &str) -> Option<btf_rs::Struct> {
    btf.resolve_types_by_name(name)
        .ok()?
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) if !s.members.is_empty() => Some(s),
            _ => None,
        })
}

/// Finds `field` among the members of `ty`, looking inside anonymous members.
fn find_member(btf: &Btf, ty: &btf_rs::Struct, field: &str) -> Option<(u32, Type)> {
    for m in &ty.members {
        let name = btf.resolve_name(m).unwrap_or_default();
        if m.bitfield_size().is_some_and(|s| s != 0) && name == field {
            return None;
        }
        let member_ty = btf.resolve_chained_type(m).ok()?;
        if name == field {
            return Some((m.bit_offset(), member_ty));
        }
        if name.is_empty() {
            if let Some(inner) = skip_modifiers(btf, member_ty) {
                if let Some((off, t)) = find_member(btf, &inner, field) {
                    return Some((m.bit_offset() + off, t));
                }
            }
        }
    }
    None
}

/// Follows typedefs and qualifiers down to a struct or union.
fn skip_modifiers(btf: &Btf, mut ty: Type) -> Option<btf_rs::Struct> {
    for _ in 0..16 {
        ty = match ty {
            Type::Struct(s) | Type::Union(s) => return Some(s),
            Type::Typedef(_) | Type::Const(_) | Type::Volatile(_) | Type::TypeTag(_) => {
                btf.resolve_chained_type(ty.as_btf_type()?).ok()?
            }
            _ => return None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host running the tests has BTF (a hard requirement of pathtrace itself).
    fn host() -> KernelBtf {
        KernelBtf::load().expect("the test host must have kernel BTF")
    }

    #[test]
    fn resolves_every_offset_the_probes_need() {
        let o = host().offsets();
        for (name, v) in [
            ("skb_dev", o.skb_dev),
            ("skb_head", o.skb_head),
            ("skb_len", o.skb_len),
            ("skb_mac_header", o.skb_mac_header),
            ("skb_network_header", o.skb_network_header),
            ("skb_protocol", o.skb_protocol),
            ("skb_vlan_tci", o.skb_vlan_tci),
            ("skb_vlan_proto", o.skb_vlan_proto),
            ("dev_ifindex", o.dev_ifindex),
            ("dev_nd_net", o.dev_nd_net),
            ("net_inum", o.net_inum),
            ("skb_tail", o.skb_tail),
        ] {
            assert_ne!(v, OFFSET_UNAVAILABLE, "{name} not found in kernel BTF");
        }
        // Two fields cannot share an offset; a resolver bug that returns 0 everywhere would.
        assert_ne!(o.skb_head, o.skb_dev);
        assert_ne!(o.skb_vlan_tci, o.skb_vlan_proto);
    }

    #[test]
    fn drop_reason_names_come_from_the_kernel() {
        let reasons = host().drop_reasons();
        assert!(
            reasons.values().any(|n| n == "NOT_SPECIFIED"),
            "{reasons:?}"
        );
        assert!(
            reasons.values().any(|n| n == "NETFILTER_DROP"),
            "{reasons:?}"
        );
    }

    #[test]
    fn missing_btf_is_a_clear_error() {
        let err = KernelBtf::from_file(Path::new("/nonexistent/vmlinux"))
            .err()
            .expect("must fail");
        assert!(err.to_string().contains("CONFIG_DEBUG_INFO_BTF"), "{err}");
    }
}
