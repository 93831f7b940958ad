//! Everything pathtrace puts into the kernel, and its lifetime. Read this module to know what
//! is attached where: each attachment is a guard whose `Drop` removes it (in the right network
//! namespace), so normal exit, `?` errors and signals (which end the event loop normally) all
//! leave the kernel as it was.

mod clsact;
mod drops;
mod loader;
pub mod tc;

pub use drops::DropProbe;
pub use loader::{LoadedProbes, ProbeConfig};
pub use tc::{AttachMode, Interface, TcAttachment};
