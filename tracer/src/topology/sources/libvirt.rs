//! libvirt domains: which VM owns which MAC, and the host tap (`<target dev>`) and bridge
//! (`<source bridge>`) behind it.
//!
//! Read from files, not from `virsh`: libvirtd keeps the live XML of every running QEMU domain
//! in `/run/libvirt/qemu/NAME.xml` (a `<domstatus>` wrapping the `<domain>`), and Nova keeps
//! `libvirt.xml` in each instance directory. `--libvirt-xml` adds files or directories, such
//! as the output of `virsh dumpxml`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::topology::model::{Vm, VmNic};

/// Directories read when the user names none.
pub const DEFAULT_DIRS: &[&str] = &["/run/libvirt/qemu", "/var/lib/nova/instances"];

/// Every domain XML file under `paths` (files as given; directories one level deep, plus
/// Nova's `<instance>/libvirt.xml`).
pub fn xml_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
            continue;
        }
        let Ok(dir) = std::fs::read_dir(p) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            if e.is_file() && e.extension().is_some_and(|x| x == "xml") {
                out.push(e);
            } else if e.join("libvirt.xml").is_file() {
                out.push(e.join("libvirt.xml"));
            }
        }
    }
    out
}

pub fn read(path: &Path) -> Result<Vm> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text, &path.display().to_string())
        .with_context(|| format!("{} is not a libvirt domain", path.display()))
}

/// Parses a `<domain>` document, or a `<domstatus>` that contains one.
pub fn parse(xml: &str, source: &str) -> Result<Vm> {
    let doc = roxmltree::Document::parse(xml).context("malformed XML")?;
    let root = doc.root_element();
    let domain = match root.tag_name().name() {
        "domain" => root,
        "domstatus" => root
            .children()
            .find(|n| n.has_tag_name("domain"))
            .context("<domstatus> without <domain>")?,
        other => bail!("root element is <{other}>, expected <domain>"),
    };
    let text_of = |name: &str| {
        domain
            .children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
    };
    let name = text_of("name").context("<domain> without <name>")?;
    let uuid = text_of("uuid").unwrap_or_default();
    let mut nics = Vec::new();
    if let Some(devices) = domain.children().find(|n| n.has_tag_name("devices")) {
        for iface in devices.children().filter(|n| n.has_tag_name("interface")) {
            let child = |tag: &str| iface.children().find(|n| n.has_tag_name(tag));
            let Some(mac) = child("mac").and_then(|m| m.attribute("address")) else {
                // libvirt always writes a MAC into a defined domain; a hand-written one
                // without it cannot be matched against packets.
                continue;
            };
            let mac = mac
                .parse()
                .map_err(|e: String| anyhow::anyhow!("{name}: {e}"))?;
            let source = child("source").and_then(|s| {
                s.attribute("bridge")
                    .or_else(|| s.attribute("network"))
                    .or_else(|| s.attribute("dev"))
                    .map(str::to_string)
            });
            let interface_id = child("virtualport")
                .and_then(|v| v.children().find(|n| n.has_tag_name("parameters")))
                .and_then(|p| p.attribute("interfaceid"))
                .map(str::to_string);
            let mtu = match child("mtu").and_then(|m| m.attribute("size")) {
                Some(s) => Some(
                    s.parse()
                        .with_context(|| format!("{name}: bad MTU '{s}'"))?,
                ),
                None => None,
            };
            nics.push(VmNic {
                mac,
                kind: iface.attribute("type").unwrap_or("").to_string(),
                target_dev: child("target")
                    .and_then(|t| t.attribute("dev"))
                    .map(str::to_string),
                source,
                model: child("model")
                    .and_then(|m| m.attribute("type"))
                    .map(str::to_string),
                mtu,
                interface_id,
                netdev: None,
            });
        }
    }
    Ok(Vm {
        name,
        uuid,
        source: source.to_string(),
        nics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_001_interface() {
        let xml = r#"<domstatus state='running'><domain type='kvm' id='35'>
            <name>instance-00000025</name><uuid>9c45fce8-83d9-4518-9055-4df2899e23af</uuid>
            <devices><interface type='bridge'>
              <mac address='fa:16:3e:21:1b:4b'/><source bridge='qbrc3d70d5c-a9'/>
              <target dev='tapc3d70d5c-a9'/><model type='virtio'/><mtu size='1500'/>
            </interface></devices></domain></domstatus>"#;
        let vm = parse(xml, "test").unwrap();
        assert_eq!(vm.name, "instance-00000025");
        assert_eq!(vm.nics.len(), 1);
        let nic = &vm.nics[0];
        assert_eq!(nic.mac.to_string(), "fa:16:3e:21:1b:4b");
        assert_eq!(nic.target_dev.as_deref(), Some("tapc3d70d5c-a9"));
        assert_eq!(nic.source.as_deref(), Some("qbrc3d70d5c-a9"));
        assert_eq!(nic.mtu, Some(1500));
    }

    #[test]
    fn real_virsh_dumpxml() {
        let path = format!("{}/fixtures/virsh-dumpxml.xml", env!("CARGO_MANIFEST_DIR"));
        let vm = read(Path::new(&path)).unwrap();
        assert_eq!(vm.name, "instance-00000001");
        assert_eq!(vm.uuid, "3707ac87-4f5d-4349-b7ed-3a673f55e5e1");
        assert_eq!(vm.nics.len(), 1);
        assert_eq!(vm.nics[0].mac.to_string(), "fa:16:3e:fe:c7:87");
        assert_eq!(vm.nics[0].kind, "bridge");
        assert_eq!(vm.nics[0].target_dev.as_deref(), Some("tap53903a95-82"));
        assert_eq!(vm.nics[0].source.as_deref(), Some("qbr53903a95-82"));
        assert_eq!(vm.nics[0].model.as_deref(), Some("virtio"));
        // Truncated at any point, it is an error, never a panic.
        let text = std::fs::read_to_string(&path).unwrap();
        for cut in (0..text.len()).step_by(37) {
            let _ = parse(&text[..cut], "cut");
        }
        assert!(parse(&text[..text.len() / 2], "half").is_err());
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            "",
            "<domain>",
            "<network><name>x</name></network>",
            "<domain><uuid>u</uuid></domain>",
            "<domstatus></domstatus>",
            "<domain><name>x</name><devices><interface><mac address='zz'/></interface></devices></domain>",
            "<domain><name>x</name><devices><interface><mac address='02:00:00:00:00:01'/><mtu size='big'/></interface></devices></domain>",
        ] {
            assert!(parse(bad, "t").is_err(), "{bad}");
        }
    }
}
