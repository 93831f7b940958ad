//! TC attachments on one interface, in any network namespace.
//!
//! With tcx (Linux >= 6.6) the attachment is a bpf_link owned by a file descriptor: it goes
//! away with the process even on SIGKILL. The netlink fallback (older kernels, or forced with
//! `--tc-attach netlink`) creates cls_bpf filters that outlive the process unless removed, and
//! may need a clsact qdisc; both are removed by [`TcAttachment`]'s `Drop`, inside the
//! interface's namespace.

use anyhow::{bail, Context as _, Result};
use aya::{
    programs::{
        tc::{NlOptions, SchedClassifierLink, TcAttachOptions},
        LinkOrder, SchedClassifier, TcAttachType,
    },
    util::KernelVersion,
};

use super::clsact;
use crate::netns::{Netns, NetnsGuard};

/// How TC programs are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// tcx where the kernel has it (>= 6.6), netlink otherwise.
    Auto,
    /// tcx links only.
    Tcx,
    /// Netlink cls_bpf filters on a clsact qdisc.
    Netlink,
}

impl AttachMode {
    /// The concrete mechanism for this kernel.
    fn resolve(self) -> Self {
        match self {
            Self::Auto => match KernelVersion::current() {
                Ok(v) if v >= KernelVersion::new(6, 6, 0) => Self::Tcx,
                _ => Self::Netlink,
            },
            other => other,
        }
    }
}

/// An interface to attach to.
#[derive(Clone, Debug)]
pub struct Interface {
    pub netns: Netns,
    pub name: String,
    pub ifindex: u32,
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.netns.name, self.name)
    }
}

/// The ingress and egress programs attached to one interface. Dropping it detaches them and
/// removes a clsact qdisc that pathtrace created.
pub struct TcAttachment {
    pub iface: Interface,
    /// tcx or netlink, as actually used.
    pub mode: AttachMode,
    links: Vec<SchedClassifierLink>,
    created_clsact: bool,
}

impl TcAttachment {
    pub(super) fn attach(
        ingress: &mut SchedClassifier,
        egress: &mut SchedClassifier,
        iface: &Interface,
        mode: AttachMode,
    ) -> Result<Self> {
        let mode = mode.resolve();
        let _in_netns = NetnsGuard::enter(&iface.netns.path)?;
        // From here on, a failure drops `attachment`, which undoes whatever was done so far.
        let mut attachment = Self {
            iface: iface.clone(),
            mode,
            links: Vec::new(),
            created_clsact: false,
        };
        if mode == AttachMode::Netlink {
            attachment.created_clsact = clsact::ensure(iface.ifindex)
                .with_context(|| format!("cannot add a clsact qdisc on {iface}"))?;
        }
        for (program, hook) in [
            (ingress, TcAttachType::Ingress),
            (egress, TcAttachType::Egress),
        ] {
            let options = match mode {
                // First, so we see what arrived before another program acts on it; our programs
                // return TCX_NEXT, so every other program still runs.
                AttachMode::Tcx => TcAttachOptions::TcxOrder(LinkOrder::first()),
                // Priority 0 lets the kernel put us ahead of existing filters without
                // colliding with their priorities; we return TC_ACT_UNSPEC, so they still run.
                _ => TcAttachOptions::Netlink(NlOptions::default()),
            };
            let id = program
                .attach_with_options(&iface.name, hook, options)
                .with_context(|| format!("cannot attach the {hook:?} TC program to {iface}"))?;
            attachment.links.push(program.take_link(id)?);
        }
        Ok(attachment)
    }

    /// Detaches now and reports problems (dropping does the same, but can only log them).
    pub fn detach(mut self) -> Result<()> {
        self.detach_all()
    }

    fn detach_all(&mut self) -> Result<()> {
        if self.links.is_empty() && !self.created_clsact {
            return Ok(());
        }
        if self.mode == AttachMode::Tcx {
            // fd-based: closing the link detaches it, in whatever namespace we are.
            self.links.clear();
            return Ok(());
        }
        let _in_netns = match NetnsGuard::enter(&self.iface.netns.path) {
            Ok(g) => g,
            Err(e) => {
                // The namespace is gone, and with it the interface and our filters.
                self.links.clear();
                self.created_clsact = false;
                return Err(e.context(format!("{} vanished before detach", self.iface)));
            }
        };
        // Dropping a netlink link sends the filter deletion from this thread's namespace.
        self.links.clear();
        if self.created_clsact {
            self.created_clsact = false;
            clsact::remove_if_unused(self.iface.ifindex)
                .with_context(|| format!("cannot remove our clsact qdisc from {}", self.iface))?;
        }
        Ok(())
    }
}

impl Drop for TcAttachment {
    fn drop(&mut self) {
        if let Err(e) = self.detach_all() {
            tracing::warn!("{e:#}");
        }
    }
}

/// Resolves an interface name inside a namespace.
pub fn lookup(netns: &Netns, name: &str) -> Result<Interface> {
    let _in_netns = NetnsGuard::enter(&netns.path)?;
    let cname = std::ffi::CString::new(name).context("interface name contains a NUL byte")?;
    // SAFETY: valid C string.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        bail!("no interface '{name}' in network namespace {}", netns.name);
    }
    Ok(Interface {
        netns: netns.clone(),
        name: name.to_string(),
        ifindex,
    })
}

/// Every interface of a namespace except loopback.
pub fn all_in(netns: &Netns) -> Result<Vec<Interface>> {
    let _in_netns = NetnsGuard::enter(&netns.path)?;
    let mut out = Vec::new();
    // SAFETY: if_nameindex returns a NULL-terminated array that we free below; it asks netlink
    // in this thread's (now entered) namespace.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            bail!("cannot list interfaces of network namespace {}", netns.name);
        }
        let mut p = list;
        while (*p).if_index != 0 {
            let name = std::ffi::CStr::from_ptr((*p).if_name)
                .to_string_lossy()
                .into_owned();
            if name != "lo" {
                out.push(Interface {
                    netns: netns.clone(),
                    name,
                    ifindex: (*p).if_index,
                });
            }
            p = p.add(1);
        }
        libc::if_freenameindex(list);
    }
    Ok(out)
}
