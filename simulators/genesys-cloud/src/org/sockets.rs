//! What a channel knows of its socket: the attachment it holds and the commands a socket task
//! takes from the rest of the org (events, system messages, faults).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::faults::BadFrameKind;

/// A socket attached to a channel.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub conn_id: u64,
    pub tx: mpsc::UnboundedSender<SocketCmd>,
}

/// Commands for one socket task.
#[derive(Debug)]
pub(crate) enum SocketCmd {
    /// A notification; `seq` is its truth sequence number.
    Event { seq: u64, text: Arc<str> },
    /// A system message, then a close frame.
    SystemThenClose { text: String, code: u16, reason: String },
    /// `v2.system.socket_closing`, then close 1001 after `grace` (real).
    SocketClosing { text: String, grace: Duration },
    /// Go silent, keep TCP open.
    HalfOpen,
    /// TCP RST.
    Reset,
    /// Close with a code; 1005/1006 = FIN without a close frame.
    Close { code: u16, reason: String },
    /// One bad frame.
    BadFrame { kind: BadFrameKind, size: usize },
    /// Another socket connected to the same channel.
    Replaced,
}
