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

/// `main` waits for `tokio::signal::ctrl_c().await` (SIGINT) only: wait for SIGTERM too, the
/// signal orchestrators send, where it waits for Ctrl-C (`body`: `main`'s block). The
/// expression keeps its type (`io::Result<()>`), so the `?`/`.expect(..)` after it stays.
/// `body`: the function (or its block). Unix only (`tokio::signal::unix`). Unsafe: SIGTERM now runs the graceful path instead of
/// killing the process.
pub fn sigterm_with_ctrl_c(src: &str, body: &Range<usize>) -> Option<Fix> {
    let text = src.get(body.clone())?;
    let wait = "tokio::signal::ctrl_c().await";
    let at = text.find(wait)?;
    if text[at + 1..].contains(wait) || text.contains("SignalKind::terminate") {
        return None;
    }
    // Constant code, written as rustfmt lays it out (prettyplease would put the `select!` arms
    // on one line); checked to parse as an expression.
    let code = [
        "async {",
        "    let mut terminate =",
        "        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;",
        "    tokio::select! {",
        "        r = tokio::signal::ctrl_c() => r,",
        "        _ = terminate.recv() => std::io::Result::Ok(()),",
        "    }",
        "}",
        ".await",
    ]
    .join("\n");
    print::parse::<syn::Expr>(&code)?;
    let start = body.start + at;
    let indent = crate::fixes::text::line_indent(src, start);
    let nl = crate::fixes::text::newline(src);
    fix(
        "wait for SIGTERM (what orchestrators send) as well as Ctrl-C in `main`",
        Applicability::Unsafe,
        vec![edit(
            start..start + wait.len(),
            print::indent(&code, indent, nl),
        )],
    )
}

#[cfg(test)]
mod sigterm_tests {
    #[test]
    fn ctrl_c_waits_for_sigterm_too() {
        let src = "async fn main() -> anyhow::Result<()> {\n    run();\n    tokio::signal::ctrl_c().await?;\n    Ok(())\n}\n";
        let body = src.find('{').unwrap()..src.len() - 1;
        let f = super::sigterm_with_ctrl_c(src, &body).unwrap();
        let fixed = super::super::syntax::apply(src, &f.edits).unwrap();
        assert!(fixed.contains("SignalKind::terminate()"), "{fixed}");
        assert!(fixed.contains("    }\n    .await?;\n"), "{fixed}");
        assert!(super::super::syntax::parses(&fixed));
    }
}
