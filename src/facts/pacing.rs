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

/// An argument position of a type's function: `Client::new`'s first argument is
/// `{ owner: "Client", func: "new", index: 0 }` (`self` not counted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallArg {
    pub owner: String,
    pub func: String,
    pub index: usize,
}

/// A struct's field an unbounded sender was put into (`Ldap { tx, .. }`): its queue is paced
/// when every send on that field, in every file, awaits a reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SenderField {
    pub owner: String,
    pub field: String,
}

/// The sends of one file on a field (`self.tx.send(…)` in `impl Ldap`: owner `Ldap`; a field
/// seen through another value, `self.ldap.tx`: owner `None`), and how many of them hand over
/// a one-shot reply sender whose receiver the sending function awaits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldSends {
    pub owner: Option<String>,
    pub field: String,
    pub sends: u32,
    pub replied: u32,
}
