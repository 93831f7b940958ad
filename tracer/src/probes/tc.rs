//! TC attachments on one interface, in any network namespace.
//!
//! With tcx (Linux >= 6.6) the attachment is a bpf_link owned by a file descriptor: it goes
//! away with the process even on SIGKILL. The netlink fallback (older kernels, or forced with
//! `--tc-attach netlink`) creates cls_bpf filters that outlive the process unless removed, and
//! may need a clsact qdisc; both are removed by [`TcAttachment`]'s `Drop`, inside the
//! interface's namespace.

use std::os::fd::{BorrowedFd, OwnedFd};

use anyhow::{bail, Context as _, Result};
use aya::{
    programs::{
        tc::{NlOptions, SchedClassifierLink, TcAttachOptions},
        SchedClassifier, TcAttachType,
    },
    util::KernelVersion,
};

use super::{clsact, tcx};
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

/// Above this many interfaces `auto` uses netlink even where tcx exists: each tcx attach and
/// detach waits for an RCU grace period while holding RTNL (measured ~10 ms per hook on the CI
/// machine: 200 interfaces took 3.8 s to attach and 4 s to detach with tcx, 20 ms and 24 ms
/// with netlink). A path through a host has far fewer interfaces than this.
pub const TCX_AUTO_MAX_INTERFACES: usize = 32;

impl AttachMode {
    /// The concrete mechanism for this kernel and this many interfaces.
    pub fn resolve(self, interfaces: usize) -> Self {
        match self {
            Self::Auto => match KernelVersion::current() {
                Ok(v)
                    if v >= KernelVersion::new(6, 6, 0)
                        && interfaces <= TCX_AUTO_MAX_INTERFACES =>
                {
                    Self::Tcx
                }
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
    /// Netlink filters (aya links, removed by a thread in the interface's namespace).
    links: Vec<SchedClassifierLink>,
    /// tcx links: closing the fd detaches, from any namespace.
    tcx_links: Vec<OwnedFd>,
    created_clsact: bool,
}

impl TcAttachment {
    /// Netlink cls_bpf filters, through aya.
    pub(super) fn attach_netlink(
        ingress: &mut SchedClassifier,
        egress: &mut SchedClassifier,
        iface: &Interface,
    ) -> Result<Self> {
        let _in_netns = NetnsGuard::enter(&iface.netns)?;
        // From here on, a failure drops `attachment`, which undoes whatever was done so far.
        let mut attachment = Self::empty(iface, AttachMode::Netlink);
        attachment.created_clsact = clsact::ensure(iface.ifindex)
            .with_context(|| format!("cannot add a clsact qdisc on {iface}"))?;
        for (program, hook) in [
            (ingress, TcAttachType::Ingress),
            (egress, TcAttachType::Egress),
        ] {
            // Priority 0 lets the kernel put us ahead of existing filters without colliding
            // with their priorities; we return TC_ACT_UNSPEC, so they still run.
            let options = TcAttachOptions::Netlink(NlOptions::default());
            let id = program
                .attach_with_options(&iface.name, hook, options)
                .with_context(|| format!("cannot attach the {hook:?} TC program to {iface}"))?;
            attachment.links.push(program.take_link(id)?);
        }
        Ok(attachment)
    }

    /// tcx links, first in each chain, so we see what arrived before another program acts on
    /// it; our programs return TCX_NEXT, so every other program still runs. The caller's thread
    /// must be in the interface's namespace.
    fn attach_tcx_here(
        ingress: BorrowedFd<'_>,
        egress: BorrowedFd<'_>,
        iface: &Interface,
    ) -> Result<Self> {
        let mut attachment = Self::empty(iface, AttachMode::Tcx);
        for (prog, hook) in [
            (ingress, tcx::BPF_TCX_INGRESS),
            (egress, tcx::BPF_TCX_EGRESS),
        ] {
            let link = tcx::attach_first(prog, iface.ifindex, hook)
                .with_context(|| format!("cannot attach the TC program to {iface}"))?;
            attachment.tcx_links.push(link);
        }
        Ok(attachment)
    }

    fn empty(iface: &Interface, mode: AttachMode) -> Self {
        Self {
            iface: iface.clone(),
            mode,
            links: Vec::new(),
            tcx_links: Vec::new(),
            created_clsact: false,
        }
    }

    /// Detaches now and reports problems (dropping does the same, but can only log them).
    pub fn detach(mut self) -> Result<()> {
        self.detach_all()
    }

    fn detach_all(&mut self) -> Result<()> {
        // fd-based: closing a tcx link detaches it, in whatever namespace we are.
        self.tcx_links.clear();
        if self.links.is_empty() && !self.created_clsact {
            return Ok(());
        }
        let _in_netns = match NetnsGuard::enter(&self.iface.netns) {
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

/// Attaches tcx links to every interface, one namespace at a time (one `setns` each): the
/// `groups[i]`-th pair of `programs` (ingress, egress) to `ifaces[i]`. Not in parallel: the
/// kernel holds RTNL across each attach's RCU grace period, so threads only queue. Any failure
/// detaches what was attached.
pub fn attach_tcx_all(
    programs: &[(BorrowedFd<'_>, BorrowedFd<'_>)],
    ifaces: &[Interface],
    groups: &[usize],
) -> Result<Vec<TcAttachment>> {
    let mut done = Vec::with_capacity(ifaces.len());
    let mut i = 0;
    while i < ifaces.len() {
        let netns = &ifaces[i].netns;
        let _in_netns = NetnsGuard::enter(netns)?;
        while i < ifaces.len() && ifaces[i].netns.ino == netns.ino {
            // On error or a signal, `done` is dropped and what was attached so far is detached.
            crate::interrupt::check()?;
            let (ingress, egress) = programs[groups[i]];
            done.push(TcAttachment::attach_tcx_here(ingress, egress, &ifaces[i])?);
            i += 1;
        }
    }
    Ok(done)
}

/// Detaches every attachment; returns the first error after trying them all.
pub fn detach_all(attachments: Vec<TcAttachment>) -> Result<()> {
    let mut first_error = None;
    for a in attachments {
        if let Err(e) = a.detach() {
            tracing::warn!("{e:#}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Resolves an interface name inside a namespace.
pub fn lookup(netns: &Netns, name: &str) -> Result<Interface> {
    let _in_netns = NetnsGuard::enter(netns)?;
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
    let _in_netns = NetnsGuard::enter(netns)?;
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
