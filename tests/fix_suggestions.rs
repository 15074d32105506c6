//! The listener shapes a class can remove in its teardown (a bare `addEventListener`, a
//! constructor parameter kept in a field), and the suggestions every other finding carries:
//! hand-checked outputs, and the invariant that no finding of the cases and rule docs is left
//! with nothing.

mod common;

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use common::*;
use unleak::diagnostic::Applicability;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `text` after `check --fix --unsafe-fixes`, which must leave no finding (exit 0).
fn fixed(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join(name);
    fs::write(&f, text).unwrap();
    Command::cargo_bin("unleak")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", name, "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    fs::read_to_string(&f).unwrap()
}

/// The one fix of the one `rule` finding of `text`, applied by itself.
fn only_fix(path: &str, text: &str, rule: &str) -> (unleak::diagnostic::Fix, String) {
    let diags = lint_one(path, text);
    let found: Vec<_> = diags.iter().filter(|d| d.rule == rule).collect();
    assert_eq!(found.len(), 1, "{diags:?}");
    assert_eq!(found[0].fixes.len(), 1, "{:?}", found[0].fixes);
    let f = found[0].fixes[0].clone();
    let edits: Vec<_> = f
        .edits
        .iter()
        .map(|e| (e.range.clone(), e.content.clone()))
        .collect();
    let (after, skipped) = unleak::fix::apply_edits(text, &edits);
    assert!(skipped.is_empty(), "overlapping edits: {f:?}");
    (f, after)
}

#[test]
fn constructor_parameter_kept_in_a_field_is_registered_and_removed_through_it() {
    // `spawn()` runs per call and hands the parent itself to each child.
    let src = "class Child {\n  constructor(parent) {\n    this.parent = parent;\n    parent.on('tick', () => this.step());\n  }\n  step() {}\n}\nclass Parent extends EventEmitter {\n  spawn() {\n    return new Child(this);\n  }\n}\n";
    assert_eq!(
        fixed("child.js", src),
        "class Child {\n  constructor(parent) {\n    this.parent = parent;\n    this.onTick = () => this.step();\n    this.parent.on('tick', this.onTick);\n  }\n  step() {}\n\n  dispose() {\n    if (this.onTick) this.parent.off('tick', this.onTick);\n  }\n}\nclass Parent extends EventEmitter {\n  spawn() {\n    return new Child(this);\n  }\n}\n"
    );
}

#[test]
fn a_parameter_the_constructor_does_not_keep_gets_only_a_suggestion() {
    // Kept as `this.parent` only after the registration: the field may not hold it yet where
    // the registration would go through it, so nothing is rewritten.
    let src = "class Child {\n  constructor(parent) {\n    parent.on('tick', () => this.step());\n    this.parent = parent;\n  }\n  step() {}\n}\nclass Parent extends EventEmitter {\n  spawn() {\n    return new Child(this);\n  }\n}\n";
    let (f, _) = only_fix("child.js", src, "unremoved-listener");
    assert_eq!(f.applicability, Applicability::DisplayOnly, "{f:?}");
}

#[test]
fn bare_add_event_listener_is_removed_with_its_capture_flag() {
    let src = "class BrowserSocket {\n  constructor(transport) {\n    this.transport = transport;\n    addEventListener('beforeunload', () => this.transport.close(), true);\n  }\n  close() {\n    this.transport.close();\n  }\n}\nexport function open(t) {\n  return new BrowserSocket(t);\n}\n";
    assert_eq!(
        fixed("socket.js", src),
        "class BrowserSocket {\n  constructor(transport) {\n    this.transport = transport;\n    this.onBeforeunload = () => this.transport.close();\n    addEventListener('beforeunload', this.onBeforeunload, true);\n  }\n  close() {\n    this.transport.close();\n    if (this.onBeforeunload) removeEventListener('beforeunload', this.onBeforeunload, true);\n  }\n}\nexport function open(t) {\n  return new BrowserSocket(t);\n}\n"
    );
}

#[test]
fn a_registration_in_a_loop_gets_a_suggestion_that_names_its_handler() {
    // The function already returns something: an unsubscribe cannot take its place.
    let src = "export function supervise(workers, supervisor) {\n  for (const worker of workers) {\n    supervisor.on('reload', () => worker.kill('SIGHUP'));\n  }\n  return workers.length;\n}\n";
    let (f, after) = only_fix("supervise.js", src, "unremoved-listener");
    assert_eq!(f.applicability, Applicability::DisplayOnly, "{f:?}");
    assert!(
        f.title.starts_with(
            "name the 'reload' handler `onReload` and remove it with \
             `supervisor.off('reload', onReload)` once per iteration"
        ),
        "{}",
        f.title
    );
    assert_eq!(
        after,
        format!(
            "export function supervise(workers, supervisor) {{\n  for (const worker of workers) {{\n    // unleak: remove this listener with `supervisor.off('reload', onReload)` {}\n    const onReload = () => worker.kill('SIGHUP');\n    supervisor.on('reload', onReload);\n  }}\n  return workers.length;\n}}\n",
            f.title
                .split(" `supervisor.off('reload', onReload)` ")
                .nth(1)
                .unwrap()
        )
    );
}

#[test]
fn a_finding_without_a_fix_carries_its_help_as_a_suggestion() {
    // A factory's client: where to keep one instead is the caller's decision.
    let src = "import OpenAI from 'openai';\nexport function make(apiKey: string): OpenAI {\n  return new OpenAI({ apiKey });\n}\nexport function other(apiKey: string): OpenAI {\n  return new OpenAI({ apiKey });\n}\n";
    let diags = lint_one("clients.ts", src);
    let found: Vec<_> = diags
        .iter()
        .filter(|d| d.rule == "duplicate-client")
        .collect();
    assert_eq!(found.len(), 2, "{diags:?}");
    for d in found {
        let help = d.help.clone().unwrap();
        assert_eq!(d.fixes.len(), 1, "{:?}", d.fixes);
        let f = &d.fixes[0];
        assert_eq!(f.applicability, Applicability::DisplayOnly);
        let line = line_of(src, d.range.start);
        assert_eq!(
            f.title,
            format!("for `new OpenAI` on line {line}: {help}"),
            "{f:?}"
        );
        assert_eq!(f.edits.len(), 1);
        assert_eq!(
            f.edits[0].content,
            format!("  // unleak(duplicate-client): {help}\n")
        );
    }
}

#[test]
fn every_finding_of_the_cases_and_rule_docs_has_a_fix_or_a_suggestion() {
    let mut bare = Vec::new();
    let inputs = case_and_doc_inputs(&root());
    assert!(inputs.len() > 100, "{} inputs", inputs.len());
    for (path, text) in &inputs {
        for d in lint_one(path, text) {
            if d.fixes.is_empty() && d.rule != "parse-error" {
                bare.push(format!(
                    "{}:{} {}",
                    path,
                    line_of(text, d.range.start),
                    d.rule
                ));
            }
        }
    }
    // Each file linted alone; `scripts/fix-coverage.py` also lints each case folder as one
    // project.
    assert!(
        bare.is_empty(),
        "findings with nothing:\n{}",
        bare.join("\n")
    );
}

#[test]
fn a_function_that_returns_nothing_returns_an_unsubscribe() {
    let src = "const bus = require('./bus');\nexports.watchPrices = function watchPrices(render) {\n  bus.on('price', (p) => render(p));\n};\n";
    assert_eq!(
        fixed("prices.js", src),
        "const bus = require('./bus');\nexports.watchPrices = function watchPrices(render) {\n  const onPrice = (p) => render(p);\n  bus.on('price', onPrice);\n  return () => bus.off('price', onPrice);\n};\n"
    );
}

#[test]
fn a_function_that_already_returns_gets_only_a_suggestion() {
    // Its callers use what it returns: an unsubscribe cannot take its place.
    let src = "const bus = require('./bus');\nexports.watchPrices = function watchPrices(render) {\n  bus.on('price', (p) => render(p));\n  return bus;\n};\n";
    let (f, _) = only_fix("prices.js", src, "unremoved-listener");
    assert_eq!(f.applicability, Applicability::DisplayOnly, "{f:?}");
}

#[test]
fn a_registration_per_message_replaces_the_previous_and_the_close_removes_the_last() {
    let src = "const announcements = new EventEmitter();\nwss.on('connection', (ws) => {\n  ws.on('message', (raw) => {\n    announcements.on('typing', (who) => ws.send(who));\n  });\n});\n";
    assert_eq!(
        fixed("room.js", src),
        "const announcements = new EventEmitter();\nwss.on('connection', (ws) => {\n  let onTyping;\n  ws.on('message', (raw) => {\n    if (onTyping) announcements.off('typing', onTyping);\n    onTyping = (who) => ws.send(who);\n    announcements.on('typing', onTyping);\n  });\n  ws.on('close', () => { if (onTyping) announcements.off('typing', onTyping); });\n});\n"
    );
}

#[test]
fn a_registration_per_message_in_a_loop_gets_only_a_suggestion() {
    // Replacing the previous listener would drop the other items' listeners.
    let src = "const announcements = new EventEmitter();\nwss.on('connection', (ws) => {\n  ws.on('message', (raw) => {\n    for (const who of raw) {\n      announcements.on('typing', () => ws.send(who));\n    }\n  });\n});\n";
    let (f, _) = only_fix("room.js", src, "unremoved-listener");
    assert_eq!(f.applicability, Applicability::DisplayOnly, "{f:?}");
}

#[test]
fn a_constructor_registration_is_not_preceded_by_a_removal() {
    // Once per instance: the field is empty when the constructor fills it.
    let src = "import { bus } from './bus';\nexport class View {\n  constructor() {\n    bus.on('tick', (n) => this.render(n));\n  }\n  destroy() {\n  }\n  render(n) {}\n}\nexport function open() {\n  return new View();\n}\n";
    assert_eq!(
        fixed("view.js", src),
        "import { bus } from './bus';\nexport class View {\n  constructor() {\n    this.onTick = (n) => this.render(n);\n    bus.on('tick', this.onTick);\n  }\n  destroy() {\n    if (this.onTick) bus.off('tick', this.onTick);\n  }\n  render(n) {}\n}\nexport function open() {\n  return new View();\n}\n"
    );
}

#[test]
fn registrations_in_loops_collect_their_removals_and_the_function_returns_them() {
    // Two registrations per item (a loop and a `.forEach`) share one list; `: void` becomes
    // the unsubscribe's type.
    let src = "import type { EventEmitter } from 'node:events';\nexport function supervise(workers: Worker[], bus: EventEmitter): void {\n  for (const w of workers) {\n    bus.on('reload', () => w.restart());\n  }\n  workers.forEach((w) => {\n    process.on('exit', () => w.stop());\n  });\n}\n";
    assert_eq!(
        fixed("supervise.ts", src),
        "import type { EventEmitter } from 'node:events';\nexport function supervise(workers: Worker[], bus: EventEmitter): () => void {\n  const offs: Array<() => void> = [];\n  for (const w of workers) {\n    const onReload: (...args: any[]) => void = () => w.restart();\n    bus.on('reload', onReload);\n    offs.push(() => bus.off('reload', onReload));\n  }\n  workers.forEach((w) => {\n    const onExit: (...args: any[]) => void = () => w.stop();\n    process.on('exit', onExit);\n    offs.push(() => process.off('exit', onExit));\n  });\n  return () => offs.forEach((off) => off());\n}\n"
    );
}

#[test]
fn registrations_in_a_loop_of_a_connection_are_removed_when_it_closes() {
    let src = "const bus = require('./bus');\nwss.on('connection', (ws, req) => {\n  for (const room of req.rooms) {\n    bus.on('message', (m) => room.send(m, ws));\n  }\n});\n";
    assert_eq!(
        fixed("rooms.js", src),
        "const bus = require('./bus');\nwss.on('connection', (ws, req) => {\n  const offs = [];\n  for (const room of req.rooms) {\n    const onMessage = (m) => room.send(m, ws);\n    bus.on('message', onMessage);\n    offs.push(() => bus.off('message', onMessage));\n  }\n  ws.on('close', () => offs.forEach((off) => off()));\n});\n"
    );
}

#[test]
fn a_registration_in_an_unbraced_loop_or_on_a_reassigned_target_gets_only_a_suggestion() {
    for src in [
        "const bus = require('./bus');\nexports.watch = function watch(items) {\n  for (const item of items)\n    bus.on('tick', () => item.step());\n};\n",
        "exports.watch = function watch(items, bus) {\n  for (const item of items) {\n    bus.on('tick', () => item.step());\n  }\n  bus = null;\n};\n",
    ] {
        let (f, _) = only_fix("watch.js", src, "unremoved-listener");
        assert_eq!(f.applicability, Applicability::DisplayOnly, "{f:?}");
    }
}

#[test]
fn a_listener_on_a_pooled_socket_is_removed_when_the_request_closes() {
    let src = "const http = require('node:http');\nconst agent = new http.Agent({ keepAlive: true });\nfunction timed(req) {\n  const t = {};\n  req.once('socket', (socket) => {\n    socket.once('lookup', () => {\n      t.lookup = Date.now();\n    });\n  });\n  return t;\n}\nmodule.exports = { get: (url) => timed(http.get(url, { agent })) };\n";
    assert_eq!(
        fixed("timed.js", src),
        "const http = require('node:http');\nconst agent = new http.Agent({ keepAlive: true });\nfunction timed(req) {\n  const t = {};\n  req.once('socket', (socket) => {\n    const onLookup = () => {\n      t.lookup = Date.now();\n    };\n    socket.once('lookup', onLookup);\n    req.once('close', () => socket.off('lookup', onLookup));\n  });\n  return t;\n}\nmodule.exports = { get: (url) => timed(http.get(url, { agent })) };\n"
    );
}

#[test]
fn a_listener_on_a_value_a_then_callback_keeps_in_a_field_is_removed_through_it() {
    // `getClient` may hand back the caller's shared client (clients.js); the field is set
    // after the registration, so the teardown checks it is there.
    let dir = tempfile::tempdir().unwrap();
    let case = root().join("fixtures/cases/unremoved-listener/handed-back-client");
    for name in ["clients.js", "queue.js"] {
        fs::copy(case.join(name), dir.path().join(name)).unwrap();
    }
    Command::cargo_bin("unleak")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", ".", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    let before = fs::read_to_string(case.join("queue.js")).unwrap();
    let after = fs::read_to_string(dir.path().join("queue.js")).unwrap();
    assert_eq!(
        after,
        before
            .replace(
                "      client.on('error', (err) => this.emit('error', err)); // expect: unremoved-listener\n",
                "      this.onError2 = (err) => this.emit('error', err);\n      client.on('error', this.onError2); // expect: unremoved-listener\n",
            )
            .replace(
                "    this.closed = true;\n",
                "    this.closed = true;\n    if (this.onError2 && this.client) this.client.off('error', this.onError2);\n",
            )
    );
}
