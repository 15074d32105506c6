//! Streams and file handles: `fs.createReadStream(..)` and the other stream factories,
//! `fs/promises` `open(..)`, and `a.pipe(b)`.

use tree_sitter::Node;

use super::super::NodeExt;
use super::super::text::{head_span, strip};
use super::super::walk::Walker;
use super::CallSite;
use crate::facts::*;

impl<'a> Walker<'a> {
    /// `a.pipe(b)`: `b` now follows `a`.
    pub(super) fn pipe_call(&mut self, s: &CallSite<'a>, o: Node<'a>) {
        if s.method == "pipe"
            && let Some(dest) = s.list.first()
        {
            let from = self.place_of(o);
            let to = self.place_of(*dest);
            self.event(
                EventKind::Pipe {
                    from,
                    to,
                    source_start: strip(o).start_byte(),
                },
                head_span(s.n),
            );
        }
    }

    /// A stream or file handle opened, and where it is kept.
    pub(super) fn stream_call(&mut self, s: &CallSite<'a>) {
        let callee_text = s.text;
        let last = callee_text.rsplit('.').next().unwrap_or(callee_text);
        let stream = matches!(
            last,
            "createReadStream"
                | "createWriteStream"
                | "createGzip"
                | "createGunzip"
                | "createDeflate"
                | "createInflate"
                | "createBrotliCompress"
                | "createBrotliDecompress"
        );
        let file_handle = last == "open"
            && (callee_text.ends_with("promises.open")
                || self.imported_from(
                    callee_text.split('.').next().unwrap_or(""),
                    &["fs/promises", "node:fs/promises"],
                ));
        // `this.createReadStream()`: the class's own stream factory (a MIME node rendering
        // itself), not a file or zlib stream; what it returns is the class's business.
        let own_factory = s.obj.is_some_and(|o| {
            let o = strip(o);
            o.kind_name() == "this"
                || (o.kind_name() == "identifier" && self.this_alias(self.text(o)).is_some())
        });
        if (stream || file_handle) && !own_factory {
            let (handle, _, _) = self.placement(s.n);
            self.event(
                EventKind::Stream {
                    api: callee_text.to_string(),
                    handle,
                    file_handle,
                },
                head_span(s.n),
            );
        }
    }
}
