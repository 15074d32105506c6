//! The unleak Zed extension: starts `unleak lsp` as a language server for TypeScript, TSX,
//! JavaScript and Rust files. The executable is `lsp.unleak.binary.path` from the settings, or
//! `unleak` on the worktree's PATH; `lsp.unleak.initialization_options` are passed on.

use zed_extension_api::{self as zed, LanguageServerId, Result, settings::LspSettings};

struct Unleak;

impl zed::Extension for Unleak {
    fn new() -> Self {
        Unleak
    }

    fn language_server_command(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(language_server_id.as_ref(), worktree)
            .ok()
            .and_then(|s| s.binary);
        let configured = binary.as_ref().and_then(|b| b.path.clone());
        let command = match configured {
            Some(path) => path,
            None => worktree.which("unleak").ok_or_else(|| {
                "`unleak` is not on PATH: install it with `cargo install --path <unleak \
                 checkout>`, or set `lsp.unleak.binary.path`"
                    .to_string()
            })?,
        };
        let args = binary
            .and_then(|b| b.arguments)
            .unwrap_or_else(|| vec!["lsp".into()]);
        Ok(zed::Command {
            command,
            args,
            env: worktree.shell_env(),
        })
    }

    fn language_server_initialization_options(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(
            LspSettings::for_worktree(language_server_id.as_ref(), worktree)
                .ok()
                .and_then(|s| s.initialization_options),
        )
    }
}

zed::register_extension!(Unleak);
