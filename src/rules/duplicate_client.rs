//! duplicate-client (project-wide): an SDK or network client constructed at more than one
//! site in the project, or in code that runs per request/message/session/iteration. Each
//! client owns a connection pool (and often timers); several of them multiply sockets and
//! memory, and one per request leaks them.

use super::*;
use std::collections::HashMap;
use std::sync::Arc;

use crate::facts::Event;

pub struct DuplicateClient;

static META: RuleMeta = RuleMeta {
    id: "duplicate-client",
    summary: "SDK/network clients constructed at several sites or per request",
    severity: Severity::Warning,
    languages: ALL_LANGUAGES,
    scope: RuleScope::Project,
    fix_ts: Fixability::Unsafe,
    fix_rust: Fixability::Unsafe,
};

/// Clients recognised by class name alone: the names are distinctive enough.
const BY_NAME: &[&str] = &[
    "OpenAI",
    "AzureOpenAI",
    "Anthropic",
    "Twilio",
    "PrismaClient",
    "MongoClient",
    "Stripe",
    "Redis",
    "IORedis",
];

/// Default exports of client packages: `import X from 'openai'` is `OpenAI` whatever `X` is called.
fn default_export(source: &str) -> Option<&'static str> {
    Some(match source {
        "openai" => "OpenAI",
        "twilio" => "Twilio",
        "stripe" => "Stripe",
        "ioredis" => "Redis",
        "@anthropic-ai/sdk" => "Anthropic",
        "axios" => "axios",
        _ => return None,
    })
}

/// The client a `new`/factory call constructs, canonically named, if it is one.
pub(crate) fn client_kind(facts: &FileFacts, e: &Event) -> Option<String> {
    let EventKind::New { class, factory, .. } = &e.kind else {
        return None;
    };
    // The Rust front end names known client constructors canonically (`reqwest::Client`).
    if facts.is_rust {
        let known = matches!(
            class.as_str(),
            "reqwest::Client"
                | "reqwest::blocking::Client"
                | "reqwest::async::Client"
                | "hyper_util::Client"
                | "redis::Client"
                | "async_openai::Client"
                | "mongodb::Client"
                | "sqlx::Pool"
                | "tonic::Channel"
        ) || (class.starts_with("aws_sdk_") && class.ends_with("::Client"));
        return (*factory && known).then(|| class.clone());
    }
    let (head, last) = match class.rsplit_once('.') {
        Some((h, l)) => (Some(h), l),
        None => (None, class.as_str()),
    };
    // What the head or the bare name was imported as.
    let import_of = |name: &str| -> Option<(String, String)> {
        let b = facts.lookup(name, e.scope)?;
        match &facts.bindings[b].kind {
            crate::facts::BindingKind::Import { source, imported } => {
                Some((source.clone(), imported.clone()))
            }
            _ => None,
        }
    };
    if *factory {
        return match class.as_str() {
            "twilio" | "Twilio" => Some("Twilio".into()),
            "axios.create" => Some("axios.create".into()),
            "createClient" | "redis.createClient" => {
                let src = import_of(head.unwrap_or("createClient")).map(|(s, _)| s);
                match src.as_deref() {
                    Some("redis" | "@redis/client") => Some("redis.createClient".into()),
                    _ => None,
                }
            }
            _ => None,
        };
    }
    let imported = match head {
        Some(h) => import_of(h).map(|(s, _)| (s, last.to_string())),
        None => import_of(last),
    };
    match imported {
        Some((source, name)) => {
            let name = if name == "default" || name == "*" {
                default_export(&source)?.to_string()
            } else {
                name
            };
            if source == "pg" && matches!(name.as_str(), "Pool" | "Client") {
                return Some(format!("pg.{name}"));
            }
            if source.starts_with("@aws-sdk/") && name.ends_with("Client") {
                return Some(name);
            }
            if BY_NAME.contains(&name.as_str()) {
                return Some(if name == "IORedis" {
                    "Redis".into()
                } else {
                    name
                });
            }
            None
        }
        None => {
            if BY_NAME.contains(&last) {
                Some(if last == "IORedis" {
                    "Redis".into()
                } else {
                    last.to_string()
                })
            } else {
                None
            }
        }
    }
}

/// Rust: an `async fn` (a handler, by default) that is not `main` nor a constructor runs per
/// request or message.
/// The module every TypeScript site of one client kind should import its client from.
struct SharedModule {
    path: PathBuf,
    export: String,
    /// The module's text when the fix creates it; `None` when it exists already.
    create: Option<String>,
}

/// The shared client module for `kind`: `<kind>-client.ts` in the folder all its sites share,
/// constructed with the arguments of a site whose arguments name nothing local (only
/// literals and `process.env`), and importing the class as that site does.
fn shared_module(ctx: &ProjectCtx, sites: &[Site], kind: &str) -> Option<SharedModule> {
    use super::fixes::*;
    let ts: Vec<&Site> = sites
        .iter()
        .filter(|s| s.kind == kind && !s.facts.is_rust && !s.file.is_test)
        .collect();
    let (export, file_name) = shared_names(kind)?;
    // An earlier fix made it already: a project file exporting `export`.
    for f in ctx.files {
        let stem = f.path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem == file_name
            && f.source()
                .text
                .contains(&format!("export const {export} = "))
        {
            return Some(SharedModule {
                path: f.path.clone(),
                export,
                create: None,
            });
        }
    }
    let config = ts.iter().find_map(|s| {
        let source = s.file.source();
        let src = &source.text;
        let head = &src[s.event.span.clone()];
        let end = call_end(src, s.event.span.end)?;
        let args = &src[s.event.span.end..end];
        portable_args(args).then_some((s, head.to_string(), without_comments(args.trim())))
    })?;
    let (site, callee, args) = config;
    // The name the import must bind: the callee's first segment (`Pool`, `pg`, `createClient`).
    let root = callee
        .strip_prefix("new ")
        .unwrap_or(&callee)
        .split('.')
        .next()?
        .trim()
        .to_string();
    let facts = &site.facts;
    let b = facts.lookup(&root, site.event.scope)?;
    let import = match &facts.bindings[b].kind {
        crate::facts::BindingKind::Import { source, imported } if !source.starts_with('.') => {
            match imported.as_str() {
                "default" => format!("import {root} from '{source}';"),
                "*" => format!("import * as {root} from '{source}';"),
                i if i == root => format!("import {{ {root} }} from '{source}';"),
                i => format!("import {{ {i} as {root} }} from '{source}';"),
            }
        }
        _ => return None,
    };
    // The folder every site shares.
    let dirs: Vec<Vec<std::path::Component>> = ts
        .iter()
        .map(|s| {
            s.file
                .path
                .parent()
                .map(|p| p.components().collect())
                .unwrap_or_default()
        })
        .collect();
    let first = dirs.first()?;
    let common = (0..first.len())
        .take_while(|&i| dirs.iter().all(|d| d.get(i) == first.get(i)))
        .count();
    let dir: PathBuf = first[..common].iter().collect();
    let ext = site
        .file
        .path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("ts");
    let taken = |p: &Path| ctx.files.iter().any(|f| f.path == p);
    let mut path = dir.join(format!("{file_name}.{ext}"));
    let mut n = 2;
    while taken(&path) {
        path = dir.join(format!("{file_name}{n}.{ext}"));
        n += 1;
    }
    let nl = newline(&site.file.source().text);
    let content = [
        format!(
            "// One `{kind}` client for the whole service: it holds the connection pool, sockets"
        ),
        "// and retry state, so every module imports it instead of constructing its own.".into(),
        import,
        String::new(),
        format!("export const {export} = {callee}{args};"),
        String::new(),
    ]
    .join(nl);
    Some(SharedModule {
        path,
        export,
        create: Some(content),
    })
}

/// The export and file stem of the shared module for client kind `kind` (`OpenAI` →
/// `openaiClient` in `openai-client`; `pg.Pool` → `pgPool` in `pg-pool`;
/// `redis.createClient` → `redisClient` in `redis-client`).
fn shared_names(kind: &str) -> Option<(String, String)> {
    let mut segs = kind.split('.');
    let first = segs.next()?;
    let last = segs.next_back();
    let lower_first = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| format!("{}{}", f.to_lowercase(), c.as_str()))
            .unwrap_or_default()
    };
    let ident = |w: &str| {
        w.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    };
    let (export, file) = match last {
        // A factory: name it after its package.
        Some(l) if l.starts_with("create") => (
            format!("{}Client", lower_first(first)),
            format!("{}-client", first.to_lowercase()),
        ),
        Some(l) => (
            format!("{}{l}", lower_first(first)),
            format!("{}-{}", first.to_lowercase(), l.to_lowercase()),
        ),
        None if kind.ends_with("Client") => {
            (lower_first(kind), format!("{}-client", kind.to_lowercase()))
        }
        None => (
            format!("{}Client", kind.to_lowercase()),
            format!("{}-client", kind.to_lowercase()),
        ),
    };
    (ident(&export) && ident(&file.replace('-', "_"))).then_some((export, file))
}

/// `args` without its `//` and `/* */` comments (a marker or a note about the site does not
/// belong in the shared module); string literals are kept whole.
fn without_comments(args: &str) -> String {
    let mut out = String::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let rest = &args[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
            // Drop the spaces the comment followed.
            out.truncate(out.trim_end_matches([' ', '\t']).len());
            continue;
        }
        if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if matches!(c, '\'' | '"' | '`') {
            let len = rest[1..].find(c).map_or(rest.len(), |e| e + 2);
            out.push_str(&rest[..len]);
            i += len;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The variable statement `stmt` declares (`const client = …`), if it is one.
fn declared_name<'s>(src: &'s str, stmt: &std::ops::Range<usize>) -> Option<&'s str> {
    let text = src.get(stmt.clone())?;
    let rest = ["const ", "let ", "var "]
        .iter()
        .find_map(|k| text.strip_prefix(k))?;
    let (name, _) = rest.split_once('=')?;
    let name = name.split(':').next()?.trim();
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$'))
    .then_some(name)
}

/// Constructor arguments that mean the same in any module: literals, object keys and
/// `process.env`, nothing local.
fn portable_args(args: &str) -> bool {
    let rest = args;
    let mut prev = ' ';
    let mut chars = rest.char_indices().peekable();
    let mut ok = true;
    while let Some((i, c)) = chars.next() {
        // Comments name nothing: skip to their end.
        let comment_end = match rest[i..].get(..2) {
            Some("//") => Some(rest[i..].find('\n').map_or(rest.len(), |e| i + e)),
            Some("/*") => Some(rest[i..].find("*/").map_or(rest.len(), |e| i + e + 2)),
            _ => None,
        };
        if let Some(end) = comment_end {
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
            continue;
        }
        if matches!(c, '\'' | '"' | '`') {
            // Skip the literal (a template's `${…}` could name locals: refuse those).
            let body = &rest[i + 1..];
            let Some(close) = body.find(c) else {
                return false;
            };
            if c == '`' && body[..close].contains("${") {
                return false;
            }
            for _ in 0..body[..=close].chars().count() {
                chars.next();
            }
            prev = c;
            continue;
        }
        if (c.is_alphabetic() || c == '_' || c == '$')
            && !(prev.is_alphanumeric() || prev == '_' || prev == '.')
        {
            let word: String = rest[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                .collect();
            let after = rest[i + word.len()..].trim_start();
            let is_key = after.starts_with(':');
            let known = matches!(
                word.as_str(),
                "process"
                    | "true"
                    | "false"
                    | "null"
                    | "undefined"
                    | "Number"
                    | "String"
                    | "Boolean"
                    | "parseInt"
                    | "parseFloat"
            );
            if !is_key && !known {
                ok = false;
            }
        }
        prev = c;
    }
    ok
}

/// One TypeScript site: construct nothing, import the shared client (creating its module on
/// the first fix). Unsafe: every site now uses the shared client's configuration.
fn ts_fix(site: &Site, m: &SharedModule) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    let source = site.file.source();
    let src = &source.text;
    let facts = &site.facts;
    if site.file.path == m.path {
        return None;
    }
    let end = call_end(src, site.event.span.end)?;
    // A client this site connects itself (`await client.connect()`) cannot be swapped for a
    // shared, already connected one: the second `connect()` throws.
    if let Some(local) = declared_name(src, &site.event.stmt) {
        let owner = &facts.scopes[facts.named_owner(site.event.scope)];
        let body = owner.body.clone().unwrap_or(owner.span.clone());
        if src
            .get(site.event.stmt.end..body.end.max(site.event.stmt.end))
            .is_some_and(|rest| rest.contains(&format!("{local}.connect(")))
        {
            return None;
        }
    }
    let local = if name_in_use(facts, src, &m.export) {
        let mut c = m.export.chars();
        let f = c.next()?;
        unique_name(&format!("shared{}{}", f.to_uppercase(), c.as_str()), |n| {
            name_in_use(facts, src, n)
        })
    } else {
        m.export.clone()
    };
    let spec = relative_specifier(&site.file.path, &m.path, src);
    let binding = if local == m.export {
        local.clone()
    } else {
        format!("{} as {local}", m.export)
    };
    let nl = newline(src);
    let at = import_insertion_point(src);
    let mut edits = Vec::new();
    if let Some(content) = &m.create {
        edits.push(crate::diagnostic::Edit {
            file: Some(m.path.clone()),
            range: 0..0,
            content: content.clone(),
        });
    }
    edits.push(insert(
        at,
        format!("import {{ {binding} }} from '{spec}';{nl}"),
    ));
    edits.push(replace(site.event.span.start..end, local.clone()));
    let own_args = src[site.event.span.end..end].trim();
    let same = m.create.as_deref().is_some_and(|c| {
        c.contains(&format!(
            "{}{};",
            src[site.event.span.clone()].trim(),
            without_comments(own_args)
        ))
    }) || own_args == "()";
    // Named by the import specifier, relative to this file: the same in the CLI and the
    // language server, wherever either runs from.
    let whence = match &m.create {
        Some(_) => format!(
            "a new `{spec}{}`",
            m.path
                .extension()
                .map_or(String::new(), |e| format!(".{}", e.to_string_lossy()))
        ),
        None => format!("`{spec}`"),
    };
    Some(fix(
        format!(
            "use one shared `{}` client, `{}` from {whence}{}",
            site.kind,
            m.export,
            if same {
                ""
            } else {
                " (this site's own constructor options are replaced by the shared client's)"
            }
        ),
        crate::diagnostic::Applicability::Unsafe,
        edits,
    ))
}

/// One process-wide client per crate and kind, which every construction site clones (clones
/// of these clients share their pool): a `LazyLock` static of that kind the crate already has
/// where every module sees it (the crate root, or `pub` in a module declared there), else a
/// new `pub(crate) static` in the crate root (`src/main.rs`/`src/lib.rs`; the site's own file
/// when there is none). A site that builds that static itself gets the other sites' edits.
/// Unsafe: every site now uses the shared client's configuration.
fn rust_fix(
    ctx: &ProjectCtx,
    sites: &[Site],
    i: usize,
    group: &[usize],
) -> Option<crate::diagnostic::Fix> {
    use super::fixes::*;
    use crate::diagnostic::Edit;
    use crate::fixes::rust::clients;
    let site = &sites[i];
    let kind = site.kind.as_str();
    let home = rust_home(ctx, site)?;
    let same_crate =
        |j: usize| rust_home(ctx, &sites[j]).is_some_and(|h| h.src_dir == home.src_dir);
    // A shared static in a file every module sees.
    let mut shared: Option<(&ProjectFile, clients::StaticDecl, String)> = None;
    for f in ctx.files {
        let Some(module) = home.module_of(&f.path) else {
            continue;
        };
        let source = f.source();
        let text = &source.text;
        for st in clients::statics(text) {
            let visible = module.is_empty() || st.public;
            if visible
                && clients::lazy_inner(&st.ty).is_some_and(|t| clients::is_kind(t, kind, text))
            {
                let path = if f.path == site.file.path {
                    st.name.clone()
                } else if module.is_empty() {
                    format!("crate::{}", st.name)
                } else {
                    format!("crate::{module}::{}", st.name)
                };
                let better = shared.as_ref().is_none_or(|(g, _, _)| {
                    !home.module_of(&g.path).is_some_and(|m| m.is_empty()) && module.is_empty()
                });
                if better {
                    shared = Some((f, st, path));
                }
            }
        }
    }
    let extent = |s: &Site| clients::construction_extent(&s.file.source().text, &s.event.span);
    let reference = |s: &Site, name: &str, root: &std::path::Path| {
        if s.file.path == root {
            name.to_string()
        } else {
            format!("crate::{name}")
        }
    };
    let rel = |p: &std::path::Path| {
        p.strip_prefix(home.src_dir.parent().unwrap_or(&home.src_dir))
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut edits = Vec::new();
    let title;
    match shared {
        Some((file, st, _))
            if file.path == site.file.path && st.range.contains(&site.event.span.start) =>
        {
            // This site builds the shared client: the others clone it.
            let name = st.name.clone();
            let module = home.module_of(&file.path)?;
            for &j in group {
                if j == i || !same_crate(j) {
                    continue;
                }
                let other = &sites[j];
                let Some(r) = extent(other) else { continue };
                let path = if other.file.path == file.path {
                    name.clone()
                } else if module.is_empty() {
                    format!("crate::{name}")
                } else {
                    format!("crate::{module}::{name}")
                };
                edits.push(Edit {
                    file: (other.file.path != site.file.path).then(|| other.file.path.clone()),
                    range: r,
                    content: format!("{path}.clone()"),
                });
            }
            if edits.is_empty() {
                return None;
            }
            title = format!(
                "share `{name}` at the other {} construction site{}",
                edits.len(),
                if edits.len() == 1 { "" } else { "s" }
            );
        }
        Some((file, st, path)) => {
            edits.push(replace(extent(site)?, format!("{path}.clone()")));
            title = format!(
                "share one `{kind}`: `{path}.clone()` (from {})",
                rel(&file.path).replace('\\', "/")
            );
            let _ = st;
        }
        None => {
            let root_file = ctx
                .files
                .iter()
                .find(|f| f.path == home.root)
                .unwrap_or(site.file);
            let root_source = root_file.source();
            let root_text = &root_source.text;
            let base = match kind {
                "async_openai::Client" => "OPENAI_CLIENT",
                _ => "HTTP_CLIENT",
            };
            let name = unique_name(base, |n| root_file.facts().has_word(root_text, n));
            let site_source = site.file.source();
            let construction = site_source.text.get(extent(site)?)?;
            // A path the construction names must resolve where the static goes.
            let same_file = root_file.path == site.file.path;
            let visible = |first: &str| {
                same_file
                    || matches!(first, "std" | "core" | "alloc" | "crate" | "reqwest")
                    || root_text
                        .lines()
                        .any(|l| l.trim_start().starts_with("use ") && l.contains(first))
            };
            let item = clients::shared_static_from(kind, &name, construction, visible)?;
            let nl = newline(root_text);
            let at = crate::fixes::rust::item_insertion_point(root_text);
            edits.push(Edit {
                file: (root_file.path != site.file.path).then(|| root_file.path.clone()),
                range: at..at,
                content: format!("{nl}{}{nl}", item.trim_end().replace('\n', nl)),
            });
            let path = reference(site, &name, &root_file.path);
            edits.push(replace(extent(site)?, format!("{path}.clone()")));
            // The crate's other constructions of the same client share it too: a static
            // beside them would only be one more site.
            let mut others = 0;
            for &j in group {
                if j == i || !same_crate(j) {
                    continue;
                }
                let other = &sites[j];
                let Some(r) = extent(other) else { continue };
                others += 1;
                edits.push(Edit {
                    file: (other.file.path != site.file.path).then(|| other.file.path.clone()),
                    range: r,
                    content: format!("{}.clone()", reference(other, &name, &root_file.path)),
                });
            }
            title = format!(
                "share one `{kind}`: `{path}.clone()` (a new `static {name}` in {}){}",
                rel(&root_file.path).replace('\\', "/"),
                match others {
                    0 => String::new(),
                    1 => ", also at the other construction site".to_string(),
                    n => format!(", also at the other {n} construction sites"),
                }
            );
        }
    }
    Some(fix(title, crate::diagnostic::Applicability::Unsafe, edits))
}

/// Where a Rust file's crate keeps its root: the `src` folder above it holding `main.rs` or
/// `lib.rs` among the project's files, else the file itself (a file linted alone).
struct RustHome {
    src_dir: PathBuf,
    root: PathBuf,
}

impl RustHome {
    /// The module path of `file` as seen from the crate root, when every module sees it: `""`
    /// for the root itself, `X` for `src/X.rs` or `src/X/mod.rs` (declared in the root); `None`
    /// for deeper modules and other crates.
    fn module_of(&self, file: &std::path::Path) -> Option<String> {
        if file == self.root {
            return Some(String::new());
        }
        let rel = file.strip_prefix(&self.src_dir).ok()?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        match parts.as_slice() {
            [one] => one.strip_suffix(".rs").map(str::to_string),
            [dir, m] if m == "mod.rs" => Some(dir.clone()),
            _ => None,
        }
    }
}

fn rust_home(ctx: &ProjectCtx, site: &Site) -> Option<RustHome> {
    for dir in site.file.path.ancestors().skip(1) {
        if dir.file_name().is_some_and(|n| n == "src") {
            for root in ["main.rs", "lib.rs"] {
                let p = dir.join(root);
                if ctx.files.iter().any(|f| f.path == p) {
                    return Some(RustHome {
                        src_dir: dir.to_path_buf(),
                        root: p,
                    });
                }
            }
        }
    }
    let dir = site.file.path.parent()?.to_path_buf();
    Some(RustHome {
        src_dir: dir,
        root: site.file.path.clone(),
    })
}

pub(super) fn rust_per_request_fn(facts: &FileFacts, scope: crate::facts::ScopeId) -> bool {
    let owner = named_owner(facts, scope);
    let s = &facts.scopes[owner];
    s.is_async
        && !matches!(
            s.kind,
            crate::facts::ScopeKind::Method {
                constructor: true,
                ..
            }
        )
        && s.name.as_deref().is_some_and(|n| {
            n != "main"
                && !matches!(
                    n,
                    "new" | "build" | "init" | "connect" | "run" | "serve" | "start"
                )
                && !n.starts_with("build_")
                && !n.starts_with("create")
                && !n.starts_with("new_")
                && !n.starts_with("init")
                && !n.starts_with("connect")
        })
}

struct Site<'a> {
    file: &'a ProjectFile,
    facts: &'a FileFacts,
    event: &'a Event,
    kind: String,
    lazy: bool,
}

impl Rule for DuplicateClient {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_project(&self, ctx: &ProjectCtx) -> Vec<Diagnostic> {
        findings(ctx)
    }

    /// A connection stored in a field (the re-selection half, `overwritten_client`).
    fn reports_from(&self, e: &Event) -> bool {
        matches!(
            e.kind,
            EventKind::New {
                handle: PlaceRef::Field { .. },
                ..
            }
        )
    }

    fn check_project_file(
        &self,
        ctx: &ProjectCtx,
        file: &ProjectFile,
        facts: &FileFacts,
        _src: &crate::source::SourceFile,
    ) -> Vec<Diagnostic> {
        super::overwritten_client::check(ctx, file, facts)
            .into_iter()
            .map(|(e, message, help)| {
                META.report(file.path.clone(), e.span.clone(), message)
                    .with_help(help)
            })
            .collect()
    }
}

/// The client constructions of one file: event index and kind (see [`client_kind`]; configured
/// extra constructors, `[options] client-constructors`, count too).
pub(crate) fn file_sites(facts: &FileFacts, options: &RuleOptions) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for (i, e) in facts.events.iter().enumerate() {
        let extra = || match &e.kind {
            EventKind::New { class, .. } => {
                let last = class.rsplit(['.', ':']).next().unwrap_or(class);
                options
                    .extra_clients
                    .iter()
                    .any(|c| c == last || c == class)
                    .then(|| last.to_string())
            }
            _ => None,
        };
        if let Some(kind) = client_kind(facts, e).or_else(extra) {
            // The client library itself: `new Redis()` inside the file that defines
            // `class Redis` is a factory, not a use.
            if facts
                .classes
                .iter()
                .any(|c| c.name.as_deref() == Some(kind.as_str()))
            {
                continue;
            }
            out.push((i as u32, kind));
        }
    }
    out
}

fn findings(ctx: &ProjectCtx) -> Vec<Diagnostic> {
    // The facts of the files that construct clients, unpacked while this rule runs (their
    // text only where a fix is built).
    let held: Vec<(&ProjectFile, Arc<FileFacts>)> = ctx
        .files
        .iter()
        .filter(|f| !f.inputs.client_sites.is_empty())
        .map(|f| (f, f.facts()))
        .collect();
    let mut sites: Vec<Site> = Vec::new();
    for (file, facts) in &held {
        for (i, kind) in &file.inputs.client_sites {
            let e = &facts.events[*i as usize];
            let lazy = matches!(&e.kind, EventKind::New { lazy: true, .. });
            sites.push(Site {
                file,
                facts,
                event: e,
                kind: kind.clone(),
                lazy,
            });
        }
    }
    // The sites whose client an instance owns (see [`owned_by_instance`]).
    let owned: Vec<bool> = sites
        .iter()
        .map(|s| owned_by_instance(s, ctx.options))
        .collect();
    let owners: Vec<Option<crate::facts::ClassId>> = sites.iter().map(constructor_owner).collect();
    // The non-test sites of each kind, grouped once (not searched per site); an owned client is
    // not one of the process's shared ones.
    let mut by_kind: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, site) in sites.iter().enumerate() {
        if !site.file.is_test && !owned[i] {
            by_kind.entry(site.kind.as_str()).or_default().push(i);
        }
    }
    // The sites whose client lives only as long as one use, or goes to a factory's caller.
    let transient: Vec<bool> = sites
        .iter()
        .map(|s| {
            let (_, returned, per_use) = rhythm(s);
            (returned && !s.lazy) || per_use
        })
        .collect();
    let mut out = Vec::new();
    let mut shared: std::collections::HashMap<String, Option<SharedModule>> =
        std::collections::HashMap::new();
    for (i, site) in sites.iter().enumerate() {
        let facts = &site.facts;
        let test = site.file.is_test;
        // How many other sites there are, and the first few of them as labels.
        // The returns of one factory (`if (blocking) return new Redis({...config, …});
        // return new Redis(config);`) are one construction site: each call makes one.
        // So are the constructors of one Rust type that keep the client in the value they
        // build: one client per value (they still count against a `static` or another type's).
        let same_factory = |j: usize| {
            std::ptr::eq(site.file, sites[j].file)
                && match (returned_from(site), returned_from(&sites[j])) {
                    (Some(a), Some(b)) => a == b,
                    _ => owners[i].is_some() && owners[i] == owners[j],
                }
        };
        let (other_count, others): (usize, Vec<&Site>) = if test || owned[i] {
            (0, Vec::new())
        } else {
            let group = &by_kind[site.kind.as_str()];
            let others: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&j| j != i && !same_factory(j))
                // A value's own client is not a second pool beside one made per use or by a
                // factory: that site is reported (or judged by its callers) on its own.
                .filter(|&j| owners[i].is_none() || !transient[j])
                .collect();
            (
                distinct_sites(&sites, &others),
                others.iter().take(MAX_LABELS).map(|&j| &sites[j]).collect(),
            )
        };
        let (lifetime, returned, per_use) = rhythm(site);
        // A Rust factory whose callers in other files run it per use.
        let callers = if facts.is_rust && returned && !per_use && !site.lazy && !test {
            super::factory_callers::per_use_callers(ctx, site.file, facts, site.event.scope)
        } else {
            Vec::new()
        };
        if other_count == 0 && !per_use && callers.is_empty() {
            continue;
        }
        let kind = &site.kind;
        let message = super::factory_callers::message(kind, facts, site.event.scope, &callers)
            .unwrap_or_else(|| message(site, per_use, lifetime, other_count));
        let mut d = META.report(site.file.path.clone(),
                site.event.span.clone(),
                message,
            )
            .with_help(if facts.is_rust {
                format!(
                    "build one `{kind}` once (in `main`, a constructor or a `LazyLock`) and share it \
                     through application state: clients are cheap to clone and share their pool"
                )
            } else {
                format!(
                    "construct one `{kind}` client once, at module level in a shared module (or \
                     lazily: `client ??= new …`), export it, and import it everywhere"
                )
            });
        for o in &others {
            d = d.with_label_in(
                o.file.path.clone(),
                o.event.span.clone(),
                format!("another `{kind}` client is constructed here"),
            );
        }
        for (f, c) in callers.iter().take(MAX_LABELS) {
            d = d.with_label_in(
                f.path.clone(),
                c.span.clone(),
                format!("called here, {} ({})", c.how, c.caller),
            );
        }
        if facts.is_rust {
            if callers.is_empty() {
                d.fixes.extend(hoist_fix(site, per_use, lifetime));
            }
            d.fixes.extend(rust_fix(
                ctx,
                &sites,
                i,
                by_kind.get(site.kind.as_str()).map_or(&[], Vec::as_slice),
            ));
        } else if !test {
            let module = shared
                .entry(kind.clone())
                .or_insert_with(|| shared_module(ctx, &sites, kind));
            if let Some(m) = module {
                d.fixes.extend(ts_fix(site, m));
            }
        }
        out.push(d);
    }
    out
}

/// How often the site's code runs, whether it returns the client to its caller (a factory,
/// who decides how often), and whether it builds one per use: a factory that this file calls
/// per request or per iteration is still per use.
fn rhythm(site: &Site) -> (Lifetime, bool, bool) {
    let facts = site.facts;
    let lifetime = event_lifetime(facts, site.event.scope, site.event.in_loop);
    let returned = matches!(
        site.event.kind,
        EventKind::New {
            handle: PlaceRef::Returned(_),
            ..
        }
    );
    let per_use = !site.lazy
        && (lifetime == Lifetime::Repeated
            || (!returned && lifetime == Lifetime::PerCall)
            || (!returned
                && facts.is_rust
                && lifetime == Lifetime::Unknown
                && rust_per_request_fn(facts, site.event.scope)));
    (lifetime, returned, per_use)
}

/// The site's client belongs to one instance of a class: it is held in a field of the class
/// (directly or through a local, `c = new MongoClient(…); this.internal = c`) that a teardown
/// of the class releases (`close() { await this.internal?.close() }`, also through a local).
/// It lives and dies with its owner: a client per owner, not a second process-wide pool (a
/// driver's internal client to another server, an owned connection).
/// Rust: the type whose constructor puts this site's client in a field of the value it
/// builds (`fn new(params) -> RedisResult<Self> { Ok(Self { client: Client::open(params)?, … })
/// }`, directly or through a local): the value owns the client and drops it with itself, so
/// the type's constructors (`new`, `new_with_config`) make one client per value between them.
fn constructor_owner(site: &Site) -> Option<crate::facts::ClassId> {
    let facts = site.facts;
    let EventKind::New { handle, .. } = &site.event.kind else {
        return None;
    };
    let owner = &facts.scopes[named_owner(facts, site.event.scope)];
    if !facts.is_rust
        || !matches!(
            owner.kind,
            ScopeKind::Method {
                constructor: true,
                ..
            }
        )
    {
        return None;
    }
    let class = owner.class?;
    flow_closure(facts, &facts.resolve(handle))
        .iter()
        .any(|h| matches!(h, Place::Field { class: c, .. } if *c == class))
        .then_some(class)
}

fn owned_by_instance(site: &Site, options: &RuleOptions) -> bool {
    let facts = site.facts;
    let EventKind::New { handle, .. } = &site.event.kind else {
        return false;
    };
    let holders = flow_closure(facts, &facts.resolve(handle));
    let Some(class) = holders.iter().find_map(|h| match h {
        Place::Field { class, .. } => Some(*class),
        _ => None,
    }) else {
        return false;
    };
    holders.iter().any(|h| {
        facts.events_on(h).any(|r| {
            matches!(&r.kind, EventKind::Release { method, .. } if method != "removeAllListeners")
                && in_class_teardown(facts, r.scope, class, options)
        })
    })
}

/// The finding's message: a client built per use (`per_use`, at `lifetime`), or one of
/// `other_count + 1` construction sites.
fn message(site: &Site, per_use: bool, lifetime: Lifetime, other_count: usize) -> String {
    let (facts, kind) = (site.facts, &site.kind);
    if per_use {
        let when = match lifetime {
            Lifetime::Repeated => format!(
                "in code that runs repeatedly ({})",
                describe_scope(facts, site.event.scope)
            ),
            _ => format!(
                "on every call of {}",
                describe_scope(facts, named_owner(facts, site.event.scope))
            ),
        };
        let also = match other_count {
            0 => String::new(),
            1 => " (and 1 other construction site exists)".to_string(),
            n => format!(" (and {n} other construction sites exist)"),
        };
        format!(
            "a new `{kind}` client is constructed {when}: each one opens its own \
                 connection pool that nothing closes{also}"
        )
    } else {
        format!(
            "`{kind}` client constructed at {} sites in the project: each holds its own \
                 connection pool, sockets and retry state for the life of the process",
            other_count + 1
        )
    }
}

/// A Rust client built in a loop from nothing the loop binds: built once, before the loop; or
/// built by a factory this file calls in a loop: that call, once, before its loop. Not when the
/// function itself runs per request: the hoisted client would still be built on every call
/// (the shared static of [`rust_fix`] is the fix then).
fn hoist_fix(site: &Site, per_use: bool, lifetime: Lifetime) -> Option<crate::diagnostic::Fix> {
    use crate::fixes::rust::clients::{construction_extent, hoist_factory_call, hoist_out_of_loop};
    let (facts, kind) = (site.facts, site.kind.as_str());
    let source = site.file.source();
    let src = &source.text;
    let per_request = rust_per_request_fn(facts, site.event.scope);
    let in_loop = (per_use && lifetime == Lifetime::Repeated && !per_request)
        .then_some(site.event.loop_span.as_ref())
        .flatten()
        .and_then(|l| {
            let extent = construction_extent(src, &site.event.span)?;
            hoist_out_of_loop(src, kind, &site.event.stmt, &extent, l)
        });
    in_loop.or_else(|| {
        if !per_use || site.event.in_loop || per_request {
            return None;
        }
        let owner = &facts.scopes[named_owner(facts, site.event.scope)];
        hoist_factory_call(src, kind, owner.name.as_deref()?, &owner.span)
    })
}

/// How many construction sites `others` are: the returns of one factory count once.
fn distinct_sites(sites: &[Site], others: &[usize]) -> usize {
    let mut distinct: Vec<(usize, Option<ScopeId>)> = Vec::new();
    for &j in others {
        let key = (sites[j].file as *const _ as usize, returned_from(&sites[j]));
        if key.1.is_none() || !distinct.contains(&key) {
            distinct.push(key);
        }
    }
    distinct.len()
}

/// The function a construction is returned from (`return new Redis(config)`), if it is.
fn returned_from(site: &Site) -> Option<ScopeId> {
    match &site.event.kind {
        EventKind::New {
            handle: PlaceRef::Returned(s),
            ..
        } => Some(*s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{portable_args, without_comments};

    #[test]
    fn comments_in_constructor_arguments_name_nothing() {
        let args = "(process.env.KEY ?? '', { // the live key\n  apiVersion: '2024-06-20', /* pinned */\n})";
        assert!(portable_args(args));
        assert_eq!(
            without_comments(args),
            "(process.env.KEY ?? '', {\n  apiVersion: '2024-06-20', \n})"
        );
        // A URL is a string, not a comment; a local is still a local after a comment.
        assert_eq!(
            without_comments("({ url: 'https://x.example' })"),
            "({ url: 'https://x.example' })"
        );
        assert!(!portable_args("({ // key\n apiKey: userKey })"));
    }
}
