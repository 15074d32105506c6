//! The parse floor: discover the same files as `unleak check`, read them, parse each with the
//! same tree-sitter grammar and walk the whole tree once with a cursor, on the same thread
//! pool — everything unleak does except lowering to facts and running rules. The benchmark
//! harness compares `unleak check` against this.
//!
//! `cargo run --release --example parse_floor -- [--threads N] [--max-file-size BYTES] PATH...`
//! (the same defaults as `unleak check`: one thread per core, 2 MiB).

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use unleak::source::Language;

fn main() {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut threads = 0usize;
    let mut max_file_size = 2 * 1024 * 1024u64;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--threads") => threads = number(args.next()) as usize,
            Some("--max-file-size") => max_file_size = number(args.next()),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let start = Instant::now();
    let found = unleak::discover::discover(&paths, &[]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(256 * 1024 * 1024)
        .build()
        .expect("thread pool");
    let (files, nodes, lines) = pool.install(|| {
        found
            .files
            .par_iter()
            .map(|p| {
                let Some(lang) = Language::from_path(p) else {
                    return (0, 0, 0);
                };
                let Ok(text) = std::fs::read_to_string(p) else {
                    return (0, 0, 0);
                };
                if text.len() as u64 > max_file_size {
                    return (0, 0, 0);
                }
                let mut parser = tree_sitter::Parser::new();
                let language: tree_sitter::Language = match lang {
                    Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
                    Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
                    Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
                    Language::Rust => {
                        // The Rust floor: syn parse only.
                        let ok = syn::parse_file(&text).is_ok();
                        proc_macro2::extra::invalidate_current_thread_spans();
                        return (usize::from(ok), 0, text.lines().count());
                    }
                };
                parser.set_language(&language).expect("grammar");
                let Some(tree) = parser.parse(&text, None) else {
                    return (0, 0, 0);
                };
                let mut cursor = tree.walk();
                let mut count = 0usize;
                'walk: loop {
                    count += 1;
                    if cursor.goto_first_child() {
                        continue;
                    }
                    while !cursor.goto_next_sibling() {
                        if !cursor.goto_parent() {
                            break 'walk;
                        }
                    }
                }
                (1, count, text.lines().count())
            })
            .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    });
    eprintln!(
        "parse floor: {files} files, {lines} lines, {nodes} nodes in {:.3}s",
        start.elapsed().as_secs_f64()
    );
}

fn number(arg: Option<std::ffi::OsString>) -> u64 {
    arg.and_then(|a| a.to_str().and_then(|s| s.parse().ok()))
        .expect("a number")
}
