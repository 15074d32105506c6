//! Fixes for servers: a graceful shutdown on SIGTERM/Ctrl-C.

use std::ops::Range;

use super::{edit, fix, print};
use crate::diagnostic::{Applicability, Fix};
use crate::facts::{Event, FileFacts};
use crate::fixes::text::newline;

/// `axum::serve(…)` (the call `call`) without a graceful shutdown: add
/// `.with_graceful_shutdown(…)` and a `shutdown_signal()` that waits for SIGTERM or Ctrl-C,
/// unless a function of that name comes before the call (as the single pass of the front end
/// saw the file when this fix was built there).
pub(super) fn graceful_shutdown(
    facts: &FileFacts,
    src: &str,
    e: &Event,
    call: &Range<usize>,
) -> Option<Fix> {
    let call_end = call.end;
    let mut edits = vec![edit(
        call_end..call_end,
        ".with_graceful_shutdown(shutdown_signal())",
    )];
    let has_fn = facts
        .scopes
        .iter()
        .any(|s| s.name.as_deref() == Some("shutdown_signal") && s.span.start < e.span.start);
    if !has_fn {
        let item = print::items(quote::quote! {
            /// Resolves on SIGTERM or Ctrl-C: the server stops accepting, drains, and returns.
            async fn shutdown_signal() {
                let ctrl_c = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                #[cfg(unix)]
                let terminate = async {
                    match tokio::signal::unix::signal(
                        tokio::signal::unix::SignalKind::terminate(),
                    ) {
                        Ok(mut sigterm) => {
                            sigterm.recv().await;
                        }
                        Err(error) => {
                            eprintln!("cannot listen for SIGTERM: {error}");
                            std::future::pending::<()>().await;
                        }
                    }
                };
                #[cfg(not(unix))]
                let terminate = std::future::pending::<()>();
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = terminate => {},
                }
            }
        })?;
        let nl = newline(src);
        let end = src.len();
        let sep = if src.ends_with('\n') { "" } else { nl };
        edits.push(edit(
            end..end,
            format!("{sep}{nl}{}", item.replace('\n', nl)),
        ));
    }
    fix(
        "shut the server down gracefully on SIGTERM/Ctrl-C \
         (`.with_graceful_shutdown(shutdown_signal())`)",
        Applicability::Unsafe,
        edits,
    )
}
