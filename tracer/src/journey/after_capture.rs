//! Whether the facts read after the capture are in the judgement: the OpenFlow counters that
//! show a drop flow took the packet, the links that went down, the servers that died. A run
//! stopped by a signal still reads them, under a deadline; a second signal skips them, and a
//! verdict made without them says so instead of guessing.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterCapture {
    /// Read after the capture (flow statistics settled first where OVS is on the path).
    #[default]
    Read,
    /// Skipped: a second signal asked for the report at once.
    SkippedBySignal,
    /// Not read within the deadline that follows a stop.
    DeadlinePassed,
    /// Discovery failed after the capture.
    Failed,
}

impl AfterCapture {
    pub fn was_read(&self) -> bool {
        *self == Self::Read
    }
}

/// Why they were not read, in words (for a verdict made without them).
impl fmt::Display for AfterCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Read => "read after the capture",
            Self::SkippedBySignal => "a second signal skipped them",
            Self::DeadlinePassed => "the deadline after the stop passed first",
            Self::Failed => "discovery failed after the capture",
        })
    }
}

/// What a verdict lacks without it, in words.
pub const WHAT_IT_HOLDS: &str =
    "the OpenFlow flow counters, link states and DHCP servers as they were after the capture";
