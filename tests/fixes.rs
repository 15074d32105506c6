//! Every fix unleak offers, over every case file and rule-doc example: applying it leaves a
//! file that parses and makes its finding go away. Then the legacy fixtures fixed to a fixpoint
//! (only findings without a machine-applicable fix remain; a second run changes nothing), and
//! hand-checked outputs of each rule's fix.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::*;
use unleak::Diagnostic;
use unleak::diagnostic::Applicability;

fn unleak() -> Command {
    Command::cargo_bin("unleak").unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Per-file failures that say the text does not (fully) parse.
fn parse_problems(diags: &[Diagnostic]) -> usize {
    diags.iter().filter(|d| d.rule == "parse-error").count()
}

fn count(diags: &[Diagnostic], rule: &str) -> usize {
    diags.iter().filter(|d| d.rule == rule).count()
}

#[test]
fn every_fix_parses_and_removes_its_finding() {
    let mut offered: BTreeMap<(&'static str, Applicability), usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (path, text) in case_and_doc_inputs(&root()) {
        let before = lint_one(&path, &text);
        for d in &before {
            for f in &d.fixes {
                *offered.entry((d.rule, f.applicability)).or_default() += 1;
                // Edits in other files create a module (a shared client): it must parse and
                // be clean. The file's own edits apply here.
                let mut edits = Vec::new();
                for e in &f.edits {
                    match &e.file {
                        Some(other) if other.as_path() != Path::new(&path) => {
                            assert_eq!(e.range, 0..0, "{path}: `{}` edits another file", f.title);
                            let created = lint_one(&other.display().to_string(), &e.content);
                            assert!(
                                created.is_empty(),
                                "{path}: the module `{}` creates is not clean: {created:?}",
                                f.title
                            );
                        }
                        _ => edits.push((e.range.clone(), e.content.clone())),
                    }
                }
                let (after, skipped) = unleak::fix::apply_edits(&text, &edits);
                if !skipped.is_empty() {
                    failures.push(format!(
                        "{path}: {}: the fix's own edits overlap: {}",
                        d.rule, f.title
                    ));
                    continue;
                }
                if f.applicability == Applicability::DisplayOnly {
                    continue;
                }
                let again = lint_one(&path, &after);
                if parse_problems(&again) > parse_problems(&before) {
                    failures.push(format!(
                        "{path}: {}: `{}` leaves the file unparsable:\n{after}",
                        d.rule, f.title
                    ));
                }
                if count(&again, d.rule) >= count(&before, d.rule) {
                    failures.push(format!(
                        "{path}: {}: `{}` does not remove the finding:\n{after}",
                        d.rule, f.title
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every rule offers a fix somewhere in the corpus, and the machine-applicable ones are many.
    let rules_with_fixes: std::collections::BTreeSet<&str> =
        offered.keys().map(|(r, _)| *r).collect();
    for rule in [
        "orphaned-interval",
        "uncleared-timeout",
        "unremoved-listener",
        "duplicate-adapter",
        "unbounded-cache",
        "silent-error",
        "missing-graceful-shutdown",
    ] {
        assert!(
            rules_with_fixes.contains(rule),
            "no fix offered for {rule} in the whole corpus: {offered:?}"
        );
    }
}

/// Copies a fixture folder to a temporary folder.
fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Every file's bytes under `dir`, but the results cache the linting runs keep.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.ends_with(".unleak_cache") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Fixes a copy of a legacy fixture to its fixpoint and returns what is left, as
/// `file:line rule` lines; asserts every file still parses, that only findings without a
/// machine-applicable fix remain, and that a second run changes nothing.
fn fix_fixture(name: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join("fixtures").join(name), dir.path());
    unleak()
        .current_dir(dir.path())
        .args(["check", ".", "--fix", "--unsafe-fixes", "--format", "json"])
        .assert()
        .code(predicates::ord::le(1));
    let fixed = snapshot(dir.path());
    let out = unleak()
        .current_dir(dir.path())
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut left = Vec::new();
    for d in report["diagnostics"].as_array().unwrap() {
        let rule = d["rule"].as_str().unwrap();
        assert_ne!(rule, "parse-error", "a fixed file does not parse: {d}");
        for f in d["fixes"].as_array().unwrap() {
            assert_eq!(
                f["applicability"], "display-only",
                "a machine-applicable fix was left unapplied: {d}"
            );
        }
        left.push(format!(
            "{}:{} {rule}",
            d["path"].as_str().unwrap().trim_start_matches("./"),
            d["line"]
        ));
    }
    left.sort();
    // The fixpoint holds: a second run writes nothing.
    unleak()
        .current_dir(dir.path())
        .args(["check", ".", "--fix", "--unsafe-fixes"])
        .assert()
        .code(predicates::ord::le(1));
    assert!(
        snapshot(dir.path()) == fixed,
        "a second --fix run changed files"
    );
    left
}

#[test]
fn legacy_ts_fixed_to_a_fixpoint_keeps_only_findings_without_a_fix() {
    // Checked by hand: the four OpenAI clients now import one from a created
    // `src/ai/openai-client.ts` (linted clean with the rest); the piped recording is destroyed
    // when the response closes; sessions are deleted in `end(id)` and completed orders capped.
    // The two chunk accumulations of the transcoder collect chunks in arrays concatenated
    // once in the close handler (`Buffer.concat(outputChunks)`, `stderrChunks.join('')`, the
    // object key `stderr:` kept). Nothing is left.
    let left = fix_fixture("legacy-ts");
    assert!(left.is_empty(), "left after fixing: {left:#?}");
}

#[test]
fn legacy_rust_fixed_to_a_fixpoint_keeps_only_findings_without_a_fix() {
    // Fixed: both detached deadline tasks, the five swallowed errors, the LRU cache, the
    // server's graceful shutdown, the chunk concatenation (appended in place), the two replaced
    // task handles (the old task aborted first), the menu's sender registry (closed senders
    // pruned), every client (the OpenAI ones clone `crate::ai::OPENAI`, the reqwest ones a new
    // `crate::HTTP_CLIENT` in main.rs, `TWILIO_HTTP` included), the three endless tick loops
    // (a `SHUTDOWN` token per module) and the memory-logging thread (a `STOP` flag), and the
    // `mem::forget` (now `drop`), the socket's outgoing queue (bounded, `try_send`; a loop
    // that ends on a failed send still ends only when closed), the session map (entries removed
    // in `end(id)`) and the orders list (capped), and the two closure registries of
    // `CallSession` (dropped by one new `close()`). Left (checked by hand): the menu's channel,
    // whose receiver type the public `subscribe()` returns (a suggestion).
    let left = fix_fixture("legacy-rust");
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for l in &left {
        *tally
            .entry(l.split(' ').nth(1).unwrap().into())
            .or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [("unbounded-collection", 1)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(tally, expected, "left after fixing: {left:#?}");
}

/// Applies every machine-applicable fix (unsafe included) of one file to its fixpoint.
fn fixed(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(name);
    fs::write(&f, text).unwrap();
    unleak()
        .current_dir(dir.path())
        .args(["check", name, "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    fs::read_to_string(&f).unwrap()
}

#[test]
fn interval_in_a_class_is_kept_in_a_field_and_cleared_in_a_new_dispose() {
    let src = "export class Poller {\n  start() {\n    setInterval(() => this.poll(), 1000);\n  }\n  poll() {}\n}\n";
    assert_eq!(
        fixed("poller.ts", src),
        "export class Poller {\n  private pollTimer?: ReturnType<typeof setInterval>;\n  start() {\n    this.pollTimer = setInterval(() => this.poll(), 1000);\n  }\n  poll() {}\n\n  dispose(): void {\n    clearInterval(this.pollTimer);\n  }\n}\n"
    );
}

#[test]
fn interval_field_is_cleared_in_the_existing_teardown() {
    let src = "class Feed {\n  constructor() {\n    this.timer = setInterval(tick, 500);\n  }\n  close() {\n    this.socket.end();\n  }\n}\n";
    assert_eq!(
        fixed("feed.js", src),
        "class Feed {\n  constructor() {\n    this.timer = setInterval(tick, 500);\n  }\n  close() {\n    this.socket.end();\n    clearInterval(this.timer);\n  }\n}\n"
    );
}

#[test]
fn module_interval_gets_a_handle_and_an_exported_stop() {
    let src =
        "import { refresh } from './menu';\n\nsetInterval(() => {\n  refresh();\n}, 60_000);\n";
    assert_eq!(
        fixed("jobs.ts", src),
        "import { refresh } from './menu';\n\nconst refreshTimer = setInterval(() => {\n  refresh();\n}, 60_000);\n\n/** Stops what this module started; call it from the shutdown path (SIGTERM). */\nexport function stopRefreshTimer(): void {\n  clearInterval(refreshTimer);\n}\n"
    );
}

#[test]
fn raced_deadline_is_cleared_when_the_race_settles() {
    let src = "export function withTimeout(work, ms) {\n  return Promise.race([\n    work,\n    new Promise((_, reject) => {\n      setTimeout(() => reject(new Error('timeout')), ms);\n    }),\n  ]);\n}\n";
    assert_eq!(
        fixed("t.js", src),
        "export function withTimeout(work, ms) {\n  let timer;\n  return Promise.race([\n    work,\n    new Promise((_, reject) => {\n      timer = setTimeout(() => reject(new Error('timeout')), ms);\n    }),\n  ]).finally(() => clearTimeout(timer));\n}\n"
    );
}

#[test]
fn inline_listener_on_a_shared_emitter_moves_to_a_field_removed_in_teardown() {
    // `mount()` may run more than once per instance: the field's previous handler is removed
    // before it is replaced, or `destroy()` would remove only the last.
    let src = "import { bus } from './bus';\nexport class View {\n  mount() {\n    bus.on('tick', (n) => this.render(n));\n  }\n  destroy() {\n  }\n  render(n) {}\n}\n";
    assert_eq!(
        fixed("view.js", src),
        "import { bus } from './bus';\nexport class View {\n  mount() {\n    if (this.onTick) bus.off('tick', this.onTick);\n    this.onTick = (n) => this.render(n);\n    bus.on('tick', this.onTick);\n  }\n  destroy() {\n    if (this.onTick) bus.off('tick', this.onTick);\n  }\n  render(n) {}\n}\n"
    );
}

#[test]
fn replaced_adapter_is_disposed_first_and_cache_gets_bounds() {
    let src = "import NodeCache from 'node-cache';\nconst cache = new NodeCache();\nexport class Call {\n  reconnect() {\n    this.adapter = new RealtimeAdapter();\n  }\n  close() {\n    this.adapter.disconnect();\n  }\n}\n";
    assert_eq!(
        fixed("call.js", src),
        "import NodeCache from 'node-cache';\nconst cache = new NodeCache({ stdTTL: 600 });\nexport class Call {\n  reconnect() {\n    this.adapter?.disconnect();\n    this.adapter = new RealtimeAdapter();\n  }\n  close() {\n    this.adapter.disconnect();\n  }\n}\n"
    );
}

#[test]
fn frame_buffer_read_per_chunk_gets_a_cap() {
    // The parser reads the buffer on every chunk, so the chunks cannot wait in a list: the
    // buffer is capped right after the append (the oldest bytes go past 16 MiB).
    let src = "export function attach(socket, onFrame) {\n  let pending = Buffer.alloc(0);\n  socket.on('data', (data) => {\n    // add data to buffer\n    pending = Buffer.concat([pending, data]);\n    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {\n      const len = pending.readUInt32BE(0);\n      onFrame(pending.subarray(4, 4 + len));\n      pending = pending.subarray(4 + len);\n    }\n  });\n}\n";
    assert_eq!(
        fixed("frames.js", src),
        "export function attach(socket, onFrame) {\n  let pending = Buffer.alloc(0);\n  socket.on('data', (data) => {\n    // add data to buffer\n    pending = Buffer.concat([pending, data]);\n    if (pending.length > 16777216) pending = pending.subarray(-16777216);\n    while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {\n      const len = pending.readUInt32BE(0);\n      onFrame(pending.subarray(4, 4 + len));\n      pending = pending.subarray(4 + len);\n    }\n  });\n}\n"
    );
}

#[test]
fn server_without_sigterm_gets_a_draining_handler() {
    let src = "import http from 'node:http';\nconst server = http.createServer(handle);\nconst beat = setInterval(ping, 30_000);\nserver.listen(8080);\n";
    assert_eq!(
        fixed("main.js", src),
        // Two rules, two fixes: the interval gets its own stop function (orphaned-interval) and
        // the server a SIGTERM handler that also clears it (missing-graceful-shutdown).
        "import http from 'node:http';\nconst server = http.createServer(handle);\nconst beat = setInterval(ping, 30_000);\n\n/** Stops what this module started; call it from the shutdown path (SIGTERM). */\nexport function stopBeat() {\n  clearInterval(beat);\n}\nserver.listen(8080);\n\nprocess.once('SIGTERM', () => {\n  clearInterval(beat);\n  server.close(() => process.exit(0));\n  // Connections that outlive the drain are cut after 10 s.\n  setTimeout(() => process.exit(1), 10_000).unref();\n});\n"
    );
}

#[test]
fn rust_fixes_are_built_as_syntax() {
    // A swallowed error logs through the file's logger, with the function's name as context.
    let src = "use tracing::info;\nasync fn save(f: &mut File, b: &[u8]) {\n    match f.write_all(b).await {\n        Ok(()) => info!(\"saved\"),\n        Err(_) => {}\n    }\n}\n";
    assert_eq!(
        fixed("save.rs", src),
        "use tracing::info;\nasync fn save(f: &mut File, b: &[u8]) {\n    match f.write_all(b).await {\n        Ok(()) => info!(\"saved\"),\n        Err(error) => { tracing::warn!(\"save failed: {error}\"); }\n    }\n}\n"
    );
    // An unbounded LRU cache gets a capacity.
    let src =
        "fn cache() -> Mutex<LruCache<String, u32>> {\n    Mutex::new(LruCache::unbounded())\n}\n";
    assert_eq!(
        fixed("cache.rs", src),
        "fn cache() -> Mutex<LruCache<String, u32>> {\n    Mutex::new(LruCache::new(std::num::NonZeroUsize::new(10_000).expect(\"a non-zero capacity\")))\n}\n"
    );
}

#[test]
fn rust_server_gets_a_graceful_shutdown_and_deadline_tasks_a_drop_guard() {
    let src = "#[tokio::main]\nasync fn main() {\n    let listener = tokio::net::TcpListener::bind(\"0.0.0.0:8080\").await.unwrap();\n    axum::serve(listener, app()).await.unwrap();\n}\n";
    let out = fixed("main.rs", src);
    assert!(
        out.contains("    axum::serve(listener, app()).with_graceful_shutdown(shutdown_signal()).await.unwrap();\n"),
        "{out}"
    );
    assert!(out.contains("\nasync fn shutdown_signal() {\n"), "{out}");
    assert!(
        out.contains("tokio::signal::unix::SignalKind::terminate()"),
        "{out}"
    );
    syn::parse_file(&out).expect("the fixed file parses");
    let src = "async fn with_timeout(work: W, ms: u64) -> Result<(), E> {\n    let (fire, fired) = oneshot::channel::<()>();\n    tokio::spawn(async move {\n        tokio::time::sleep(Duration::from_millis(ms)).await;\n        let _ = fire.send(());\n    });\n    tokio::select! {\n        _ = work => Ok(()),\n        _ = fired => Err(E),\n    }\n}\n";
    let out = fixed("t.rs", src);
    assert!(
        out.contains("    let _deadline = AbortOnDrop(tokio::spawn(async move {\n")
            && out.contains("    }));\n")
            && out.contains("    struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);\n"),
        "{out}"
    );
    syn::parse_file(&out).expect("the fixed file parses");
}

#[test]
fn duplicate_clients_import_one_from_a_created_module() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("ai")).unwrap();
    fs::write(
        src.join("ai/chat.ts"),
        "import OpenAI from 'openai';\n\nconst openai = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });\nexport const chat = () => openai;\n",
    )
    .unwrap();
    fs::write(
        src.join("ai/tts.ts"),
        "import OpenAI from 'openai';\n\nexport function speak(key: string) {\n  const client = new OpenAI({ apiKey: key });\n  return client;\n}\n",
    )
    .unwrap();
    unleak()
        .current_dir(dir.path())
        .args(["check", ".", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    assert_eq!(
        fs::read_to_string(src.join("ai/openai-client.ts")).unwrap(),
        "// One `OpenAI` client for the whole service: it holds the connection pool, sockets\n// and retry state, so every module imports it instead of constructing its own.\nimport OpenAI from 'openai';\n\nexport const openaiClient = new OpenAI({ apiKey: process.env.OPENAI_API_KEY });\n"
    );
    assert_eq!(
        fs::read_to_string(src.join("ai/chat.ts")).unwrap(),
        "import OpenAI from 'openai';\nimport { openaiClient } from './openai-client';\n\nconst openai = openaiClient;\nexport const chat = () => openai;\n"
    );
    // The per-call site's own key is not portable (a parameter): the shared client's is used.
    assert_eq!(
        fs::read_to_string(src.join("ai/tts.ts")).unwrap(),
        "import OpenAI from 'openai';\nimport { openaiClient } from './openai-client';\n\nexport function speak(key: string) {\n  const client = openaiClient;\n  return client;\n}\n"
    );
}

#[test]
fn collections_lose_entries_where_their_owner_ends_or_are_capped() {
    let src = "export class Store {\n  private readonly sessions = new Map<string, object>();\n  private readonly done: object[] = [];\n  open(id: string) {\n    this.sessions.set(id, {});\n  }\n  finish(o: object) {\n    this.done.push(o);\n  }\n  end(id: string) {\n    const s = this.sessions.get(id);\n    if (!s) return;\n  }\n}\nexport const store = new Store();\n";
    assert_eq!(
        fixed("store.ts", src),
        "export class Store {\n  private readonly sessions = new Map<string, object>();\n  private readonly done: object[] = [];\n  open(id: string) {\n    this.sessions.set(id, {});\n  }\n  finish(o: object) {\n    this.done.push(o);\n    if (this.done.length > 10_000) this.done.shift();\n  }\n  end(id: string) {\n    const s = this.sessions.get(id);\n    if (!s) return;\n    this.sessions.delete(id);\n  }\n}\nexport const store = new Store();\n"
    );
}

#[test]
fn piped_download_is_destroyed_when_the_response_closes() {
    let src = "import fs from 'node:fs';\nexport function send(req, res) {\n  fs.createReadStream(req.params.file).pipe(res);\n}\n";
    assert_eq!(
        fixed("send.js", src),
        "import fs from 'node:fs';\nexport function send(req, res) {\n  const stream = fs.createReadStream(req.params.file);\n  res.on('close', () => stream.destroy());\n  stream.pipe(res);\n}\n"
    );
}

#[test]
fn rust_replaced_task_is_aborted_first() {
    let src = "pub struct Conn {\n    reader: Option<JoinHandle<()>>,\n}\nimpl Conn {\n    pub fn connect(&mut self) {\n        self.reader = Some(tokio::spawn(async move { read().await }));\n    }\n}\nfn main() {\n    let c = Arc::new(Conn { reader: None });\n}\n";
    let out = fixed("conn.rs", src);
    assert!(
        out.contains("    pub fn connect(&mut self) {\n        if let Some(previous) = self.reader.take() {\n            previous.abort();\n        }\n        self.reader = Some("),
        "{out}"
    );
    syn::parse_file(&out).expect("the fixed file parses");
}

#[test]
fn no_fix_removes_a_listener_from_what_the_teardown_cannot_reach() {
    // `cluster` is a constructor parameter, handed a module-level emitter by `join()`:
    // `close()` cannot name it, so no fix `--fix` would apply is offered — only a suggestion
    // that says where the removal belongs (the finding stays, with its help).
    let src = "const shared = new EventEmitter();\nexport class Group {\n  constructor(cluster) {\n    cluster.on('refresh', () => this.sync());\n  }\n  close() {}\n  sync() {}\n}\nexport function join() {\n  return new Group(shared);\n}\n";
    let diags = lint_one("group.js", src);
    let d = diags
        .iter()
        .find(|d| d.rule == "unremoved-listener")
        .expect("the registration is reported");
    assert_eq!(d.fixes.len(), 1, "{:?}", d.fixes);
    let f = &d.fixes[0];
    assert_eq!(f.applicability, Applicability::DisplayOnly, "{f:?}");
    assert_eq!(
        f.title,
        "name the 'refresh' handler `onRefresh` and remove it with `cluster.off('refresh', onRefresh)` \
         in `close()` (the registration must keep the handler where it can reach it)"
    );
}

#[test]
fn rust_swallowed_error_keeps_the_comment_that_explains_it() {
    let src = "fn f(r: Result<(), E>) {\n    match r {\n        Ok(()) => {}\n        Err(_) => {\n            // ignored on purpose\n        }\n    }\n}\n";
    assert_eq!(
        fixed("f.rs", src),
        "fn f(r: Result<(), E>) {\n    match r {\n        Ok(()) => {}\n        Err(error) => {\n            eprintln!(\"f failed: {error}\");\n            // ignored on purpose\n        }\n    }\n}\n"
    );
}

/// Issue 19: cleanup goes where the owner's life ends, never into a method the owner calls per
/// event. `cancel()` runs on every `interrupt`: removing the `audio` listener there would stop
/// the session after its first interruption.
#[test]
fn cleanup_skips_methods_the_owner_calls_per_event() {
    let src = "import { bus } from './bus';\nexport class Call {\n  start() {\n    bus.on('audio', (a) => this.play(a));\n    bus.on('interrupt', () => this.cancel());\n  }\n  cancel() {\n    this.playing = false;\n  }\n  play(a) {}\n  close() {\n    this.playing = false;\n  }\n}\n";
    let out = fixed("call.js", src);
    assert!(
        out.contains("  cancel() {\n    this.playing = false;\n  }\n"),
        "cancel() was changed:\n{out}"
    );
    assert!(
        out.contains("  close() {\n    this.playing = false;\n    if (this.onAudio) bus.off('audio', this.onAudio);\n"),
        "close() does not remove the listener:\n{out}"
    );
}

/// `reset()` / `abort()` reached per event through another method, and no other teardown: a new
/// `dispose()` gets the cleanup.
#[test]
fn cleanup_gets_a_new_dispose_when_every_teardown_runs_per_event() {
    let src = "import { bus } from './bus';\nexport class Player {\n  start() {\n    bus.on('tick', (t) => this.render(t));\n    bus.on('seek', () => this.restart());\n  }\n  restart() {\n    this.abort();\n  }\n  abort() {\n    this.pos = 0;\n  }\n  render(t) {}\n}\n";
    let out = fixed("player.js", src);
    assert!(
        out.contains("  abort() {\n    this.pos = 0;\n  }\n"),
        "abort() was changed:\n{out}"
    );
    assert!(
        out.contains("  dispose() {\n    if (this.onTick) bus.off('tick', this.onTick);"),
        "no new dispose():\n{out}"
    );
}

/// Among teardowns, a life-ending name wins over source order, and a method named like one
/// stays a teardown even when a handler calls it (`close()` on a `bye` message).
#[test]
fn cleanup_prefers_life_ending_teardowns() {
    let src = "import { bus } from './bus';\nexport class Link {\n  open() {\n    bus.on('data', (d) => this.onData(d));\n  }\n  onData(d) {\n    if (d === 'bye') this.close();\n  }\n  release() {\n    this.n = 0;\n  }\n  close() {\n    this.n = 0;\n  }\n}\n";
    let out = fixed("link.js", src);
    assert!(
        out.contains("  close() {\n    this.n = 0;\n    if (this.onData"),
        "close() does not remove the listener:\n{out}"
    );
    assert!(
        out.contains("  release() {\n    this.n = 0;\n  }\n"),
        "{out}"
    );
}

/// A teardown that another life-ending teardown runs as one of its steps (`close()` runs
/// `disconnectClient(id)` for each client, which also runs from each client's close handler)
/// ends one client, not the server: the server's listener is removed in `close()`, before its
/// `return`.
#[test]
fn cleanup_goes_to_the_teardown_that_runs_the_others() {
    let src = "export class FtpServer {\n  constructor() {\n    this.clients = {};\n    const quit = () => this.close();\n    process.on('SIGTERM', quit);\n  }\n  accept(socket, id) {\n    this.clients[id] = socket;\n    socket.on('close', () => this.disconnectClient(id));\n  }\n  disconnectClient(id) {\n    delete this.clients[id];\n  }\n  close() {\n    return Promise.all(Object.keys(this.clients).map((id) => this.disconnectClient(id)));\n  }\n}\n";
    let out = fixed("server.js", src);
    assert!(
        out.contains("  disconnectClient(id) {\n    delete this.clients[id];\n  }\n"),
        "disconnectClient() was changed:\n{out}"
    );
    assert!(
        out.contains("process.off('SIGTERM'"),
        "close() does not remove the listener:\n{out}"
    );
    // Kept in a field (the handler was a local), removed before `close()` returns.
    assert!(
        out.contains("    this.onSIGTERM = quit;\n    process.on('SIGTERM', this.onSIGTERM);\n"),
        "{out}"
    );
    assert!(
        out.contains("  close() {\n    if (this.onSIGTERM) process.off('SIGTERM', this.onSIGTERM);\n    return Promise.all("),
        "{out}"
    );
}

#[test]
fn per_connection_interval_is_cleared_when_the_connection_closes() {
    // The handle goes in a `const` of the connection callback; the callback's own close
    // handler clears it (a block body takes one more statement).
    let src = "import { server } from './server';\nserver.on('connection', (ws) => {\n  setInterval(() => ws.ping(), 30_000);\n  ws.on('close', () => {\n    console.log('bye');\n  });\n});\n";
    assert_eq!(
        fixed("pings.ts", src),
        "import { server } from './server';\nserver.on('connection', (ws) => {\n  const connectionInterval = setInterval(() => ws.ping(), 30_000);\n  ws.on('close', () => {\n    console.log('bye');\n    clearInterval(connectionInterval);\n  });\n});\n"
    );
}

#[test]
fn self_rescheduling_module_function_gets_a_stop_flag_and_an_exported_stop() {
    let src = "import { sync } from './sync';\n\nasync function poll(): Promise<void> {\n  await sync();\n  setTimeout(poll, 5_000);\n}\n\nvoid poll();\n";
    assert_eq!(
        fixed("poll.ts", src),
        "import { sync } from './sync';\n\nlet pollTimer: ReturnType<typeof setTimeout> | undefined;\nlet pollStopped = false;\n\nasync function poll(): Promise<void> {\n  if (pollStopped) return;\n  await sync();\n  pollTimer = setTimeout(poll, 5_000);\n}\n\n/** Stops what this module started; call it from the shutdown path (SIGTERM). */\nexport function stopPoll(): void {\n  pollStopped = true;\n  clearTimeout(pollTimer);\n}\n\nvoid poll();\n"
    );
}

#[test]
fn a_rescheduling_function_that_returns_a_value_gets_only_a_suggestion() {
    // `if (stopped) return;` would change what it returns.
    let src = "async function poll(): Promise<number> {\n  setTimeout(poll, 5_000);\n  return 1;\n}\nvoid poll();\n";
    let diags = lint_one("poll.ts", src);
    let found: Vec<_> = diags
        .iter()
        .filter(|d| d.rule == "orphaned-interval")
        .collect();
    assert_eq!(found.len(), 1, "{diags:?}");
    assert!(
        found[0]
            .fixes
            .iter()
            .all(|f| f.applicability == Applicability::DisplayOnly),
        "{:?}",
        found[0].fixes
    );
}

#[test]
fn dictionary_object_is_capped_before_a_new_key() {
    let src = "const seen: Record<string, number> = {};\nexport function hit(ip: string): void {\n  seen[ip] = Date.now();\n}\n";
    assert_eq!(
        fixed("seen.ts", src),
        "const seen: Record<string, number> = {};\nexport function hit(ip: string): void {\n  if (!(ip in seen) && Object.keys(seen).length >= 10_000) delete seen[Object.keys(seen)[0]!];\n  seen[ip] = Date.now();\n}\n"
    );
}

#[test]
fn rust_registry_without_a_teardown_gets_a_close_that_drops_its_subscribers() {
    // Two registries of one struct: one `close()` (the second fix finds it on the next round).
    let src = "use std::sync::{Arc, Mutex};\npub struct Session {\n    on_audio: Mutex<Vec<Box<dyn Fn(&[u8]) + Send + Sync>>>,\n    on_end: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,\n}\nimpl Session {\n    pub fn new() -> Arc<Self> {\n        Arc::new(Session { on_audio: Mutex::new(Vec::new()), on_end: Mutex::new(Vec::new()) })\n    }\n    pub fn subscribe_audio(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {\n        self.on_audio.lock().unwrap().push(Box::new(f));\n    }\n    pub fn subscribe_end(&self, f: impl Fn() + Send + Sync + 'static) {\n        self.on_end.lock().unwrap().push(Box::new(f));\n    }\n}\n";
    assert_eq!(
        fixed("session.rs", src),
        "use std::sync::{Arc, Mutex};\npub struct Session {\n    on_audio: Mutex<Vec<Box<dyn Fn(&[u8]) + Send + Sync>>>,\n    on_end: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,\n}\nimpl Session {\n    pub fn new() -> Arc<Self> {\n        Arc::new(Session { on_audio: Mutex::new(Vec::new()), on_end: Mutex::new(Vec::new()) })\n    }\n    pub fn subscribe_audio(&self, f: impl Fn(&[u8]) + Send + Sync + 'static) {\n        self.on_audio.lock().unwrap().push(Box::new(f));\n    }\n    pub fn subscribe_end(&self, f: impl Fn() + Send + Sync + 'static) {\n        self.on_end.lock().unwrap().push(Box::new(f));\n    }\n\n    /// Drops every subscriber of this `Session`: call it where its owner is done with it.\n    pub fn close(&self) {\n        self.on_audio.lock().unwrap().clear();\n        self.on_end.lock().unwrap().clear();\n    }\n}\n"
    );
}

#[test]
fn rust_watchdogs_armed_for_the_caller_are_returned_to_it() {
    let src = "use std::time::Duration;\npub fn arm(on_timeout: impl FnOnce() + Send + 'static) {\n    tokio::spawn(async move {\n        tokio::time::sleep(Duration::from_secs(30)).await;\n        on_timeout();\n    });\n}\npub fn arm_each(ids: Vec<u64>, tx: tokio::sync::mpsc::Sender<u64>) {\n    for id in ids {\n        let tx = tx.clone();\n        tokio::spawn(async move {\n            tokio::time::sleep(Duration::from_secs(30)).await;\n            let _ = tx.send(id).await;\n        });\n    }\n}\n";
    assert_eq!(
        fixed("arm.rs", src),
        "use std::time::Duration;\npub fn arm(on_timeout: impl FnOnce() + Send + 'static) -> tokio::task::JoinHandle<()> {\n    let deadline = tokio::spawn(async move {\n        tokio::time::sleep(Duration::from_secs(30)).await;\n        on_timeout();\n    });\n    deadline\n}\npub fn arm_each(ids: Vec<u64>, tx: tokio::sync::mpsc::Sender<u64>) -> Vec<tokio::task::JoinHandle<()>> {\n    let mut deadlines = Vec::new();\n    for id in ids {\n        let tx = tx.clone();\n        deadlines.push(tokio::spawn(async move {\n            tokio::time::sleep(Duration::from_secs(30)).await;\n            let _ = tx.send(id).await;\n        }));\n    }\n    deadlines\n}\n"
    );
}

#[test]
fn rust_registry_that_returns_a_key_gets_a_removal_by_that_key() {
    let src = "use std::sync::Mutex;\nuse slab::Slab;\npub struct Hub {\n    listeners: Mutex<Slab<Box<dyn Fn(u64) + Send + Sync>>>,\n}\nimpl Hub {\n    pub fn on_order(&self, f: impl Fn(u64) + Send + Sync + 'static) -> usize {\n        self.listeners.lock().unwrap().insert(Box::new(f))\n    }\n}\npub static HUB: std::sync::LazyLock<Hub> = std::sync::LazyLock::new(|| Hub { listeners: Mutex::new(Slab::new()) });\n";
    assert_eq!(
        fixed("hub.rs", src),
        "use std::sync::Mutex;\nuse slab::Slab;\npub struct Hub {\n    listeners: Mutex<Slab<Box<dyn Fn(u64) + Send + Sync>>>,\n}\nimpl Hub {\n    pub fn on_order(&self, f: impl Fn(u64) + Send + Sync + 'static) -> usize {\n        self.listeners.lock().unwrap().insert(Box::new(f))\n    }\n\n    /// Removes the subscriber `on_order()` returned `key` for: call it when it is done.\n    pub fn off_order(&self, key: usize) {\n        let mut subscribers = self.listeners.lock().unwrap();\n        if subscribers.contains(key) {\n            subscribers.remove(key);\n        }\n    }\n}\npub static HUB: std::sync::LazyLock<Hub> = std::sync::LazyLock::new(|| Hub { listeners: Mutex::new(Slab::new()) });\n"
    );
}

/// crossbeam, flume and async-channel: the bounded constructor returns the same types, so the
/// channel is bounded even when its ends go where the fix cannot follow (a `Vec`, an `Arc`,
/// another module); with a `try_send` in the file (which would start failing with `Full`),
/// no machine fix.
#[test]
fn same_type_channels_are_bounded_wherever_their_ends_go() {
    let src = "pub fn start(workers: &mut Vec<crossbeam_channel::Sender<Job>>) -> Inbox {\n    let (tx, rx) = crossbeam_channel::unbounded();\n    workers.push(tx);\n    let (note_tx, note_rx) = async_channel::unbounded::<Note>();\n    Inbox { rx, notes: Arc::new(note_tx), note_rx }\n}\n";
    let out = fixed("inbox.rs", src);
    assert_eq!(
        out,
        "pub fn start(workers: &mut Vec<crossbeam_channel::Sender<Job>>) -> Inbox {\n    let (tx, rx) = crossbeam_channel::bounded(1024);\n    workers.push(tx);\n    let (note_tx, note_rx) = async_channel::bounded::<Note>(1024);\n    Inbox { rx, notes: Arc::new(note_tx), note_rx }\n}\n"
    );
    let with_try = "pub fn start(workers: &mut Vec<flume::Sender<Job>>) -> flume::Receiver<Job> {\n    let (tx, rx) = flume::unbounded();\n    if tx.try_send(Job::Hello).is_err() {\n        panic!(\"worker gone\");\n    }\n    workers.push(tx);\n    rx\n}\n";
    let diags = lint_one("inbox.rs", with_try);
    let found: Vec<_> = diags
        .iter()
        .filter(|d| d.rule == "unbounded-collection")
        .collect();
    assert_eq!(found.len(), 1, "{diags:?}");
    assert!(
        found[0]
            .fixes
            .iter()
            .all(|f| f.applicability == Applicability::DisplayOnly),
        "{:?}",
        found[0].fixes
    );
}

/// An interval whose handle a method keeps only in a local is also kept in a field and cleared
/// in the class's teardown — `shutdown()`, not the circuit's `close()`, which `open()` undoes.
#[test]
fn interval_in_a_local_goes_to_a_field_cleared_in_the_final_teardown() {
    let src = "export class Breaker {\n  open() {\n    this.state = 'open';\n  }\n  close() {\n    this.state = 'closed';\n  }\n  shutdown() {\n    this.state = 'shut';\n  }\n  healthCheck(check, ms) {\n    const timer = setInterval(check, ms);\n    timer.unref();\n  }\n}\n";
    assert_eq!(
        fixed("breaker.js", src),
        "export class Breaker {\n  open() {\n    this.state = 'open';\n  }\n  close() {\n    this.state = 'closed';\n  }\n  shutdown() {\n    this.state = 'shut';\n    clearInterval(this.healthCheckTimer);\n  }\n  healthCheck(check, ms) {\n    const timer = setInterval(check, ms);\n    if (this.healthCheckTimer) clearInterval(this.healthCheckTimer);\n    this.healthCheckTimer = timer;\n    timer.unref();\n  }\n}\n"
    );
}

/// A plain function that starts an interval and returns nothing returns a stop function.
#[test]
fn interval_in_a_plain_function_is_stopped_by_the_function_it_returns() {
    let src = "export function watchDelay(limit, ms, report) {\n  let start = Date.now();\n  setInterval(() => {\n    report(Date.now() - start > limit);\n    start = Date.now();\n  }, ms);\n}\n";
    assert_eq!(
        fixed("delay.js", src),
        "export function watchDelay(limit, ms, report) {\n  let start = Date.now();\n  const watchDelayInterval = setInterval(() => {\n    report(Date.now() - start > limit);\n    start = Date.now();\n  }, ms);\n  return () => clearInterval(watchDelayInterval);\n}\n"
    );
}

/// An ES5 class with no teardown gets a new `X.prototype.dispose` after its last statement
/// (its prototype methods, the `util.inherits` call).
#[test]
fn es5_class_without_teardown_gets_a_prototype_dispose() {
    let src = "var util = require('util');\nvar EventEmitter = require('events');\nvar bus = require('./bus');\n\nfunction Watcher() {\n  var self = this;\n  bus.on('tick', function () {\n    self.emit('tick');\n  });\n}\nutil.inherits(Watcher, EventEmitter);\n\nWatcher.prototype.count = function () {\n  return 1;\n};\n\nmodule.exports = Watcher;\n";
    let out = fixed("watcher.js", src);
    assert_eq!(
        out,
        "var util = require('util');\nvar EventEmitter = require('events');\nvar bus = require('./bus');\n\nfunction Watcher() {\n  var self = this;\n  this.onTick = function () {\n    self.emit('tick');\n  };\n  bus.on('tick', this.onTick);\n}\nutil.inherits(Watcher, EventEmitter);\n\nWatcher.prototype.count = function () {\n  return 1;\n};\n\nWatcher.prototype.dispose = function () {\n  if (this.onTick) bus.off('tick', this.onTick);\n};\n\nmodule.exports = Watcher;\n"
    );
}

/// An event named by a constant (`Events.MESSAGE`) is removed by the same constant; a literal
/// event with a dot in it (`'job.done'`) stays a quoted literal.
#[test]
fn listener_on_a_constant_event_is_removed_by_that_constant() {
    let dotted = "import { bus } from './bus';\nexport class Jobs {\n  start() {\n    bus.on('job.done', (j) => this.finish(j));\n  }\n  finish(j) {}\n  close() {\n    this.done = true;\n  }\n}\n";
    assert_eq!(
        fixed("jobs.js", dotted),
        "import { bus } from './bus';\nexport class Jobs {\n  start() {\n    if (this.onJobDone) bus.off('job.done', this.onJobDone);\n    this.onJobDone = (j) => this.finish(j);\n    bus.on('job.done', this.onJobDone);\n  }\n  finish(j) {}\n  close() {\n    this.done = true;\n    if (this.onJobDone) bus.off('job.done', this.onJobDone);\n  }\n}\n"
    );
    let src = "import { bus, Events } from './bus';\nexport class Feed {\n  start() {\n    bus.on(Events.MESSAGE, (m) => this.push(m));\n  }\n  push(m) {}\n  close() {\n    this.done = true;\n  }\n}\n";
    assert_eq!(
        fixed("feed.js", src),
        "import { bus, Events } from './bus';\nexport class Feed {\n  start() {\n    if (this.onMESSAGE) bus.off(Events.MESSAGE, this.onMESSAGE);\n    this.onMESSAGE = (m) => this.push(m);\n    bus.on(Events.MESSAGE, this.onMESSAGE);\n  }\n  push(m) {}\n  close() {\n    this.done = true;\n    if (this.onMESSAGE) bus.off(Events.MESSAGE, this.onMESSAGE);\n  }\n}\n"
    );
}
