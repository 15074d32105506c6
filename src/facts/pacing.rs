//! Why an unbounded channel cannot pile up: the reasons a front end records on an
//! [`EventKind::UnboundedQueue`](super::EventKind::UnboundedQueue) for the rule to read.

use serde::{Deserialize, Serialize};

/// Why an unbounded channel cannot pile up, shown by how its file uses the two ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueuePacing {
    /// The receiver is drained by the owner's own loop, which waits for nothing else per
    /// message (it hands each one off): the queue empties as fast as it fills.
    DrainedWithoutWaiting,
    /// Every send hands over a fresh one-shot reply sender and the sender awaits the reply:
    /// at most one message per waiting caller.
    AwaitsReply,
    /// One send, outside any loop or closure, on a sender never cloned or handed on: a
    /// hand-made oneshot.
    OneMessage,
    /// The receiver stays a local of the function that made it and is read once there: the
    /// channel carries one report, and later sends fail once the function returns.
    ReceivedOnce,
    /// Every send is in a `Drop::drop`: one notice per dropped value, which a drop cannot wait
    /// to deliver and a bounded channel would lose.
    DropNotices,
    /// Every send follows a permit the sending function takes and keeps (a connection
    /// counter's `inc()`, a semaphore's `acquire`, a `want` signal): the receiver's side gives
    /// the permit back, so the sender stops at the limit.
    PermitPaced,
    /// A function wrapping the channel API (named `channel`/`unbounded`) hands both ends to its
    /// caller: the caller chose the unbounded variant.
    Constructor,
    /// The sender is never sent on, only kept or dropped (`drop(cancel_tx)`): the channel
    /// signals by closing, and carries no message.
    NeverSent,
    /// The comment above the call says why it cannot grow without limit ("unbounded because
    /// …", "bounded by …").
    DocumentedBound,
}
