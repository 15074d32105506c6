//! A run split across machines (issue 21): `unleak check --shard I/N` analyses a deterministic
//! 1/N of the files — read, lowered, file rules run — and writes what the project rules need
//! (each file's facts and file-level findings) to a summaries file; `unleak merge` reads the
//! summaries of every shard, runs the project rules over them and reports, with the same
//! findings as one run over all the files. A CI matrix (GitHub Actions, GitLab `parallel:`)
//! runs the shards as jobs and the merge as a job that needs them.
//!
//! A file belongs to shard `hash(path) mod N`, the path as the run names it (relative to the
//! working directory): every job of a matrix that runs the same command in the same checkout
//! splits the same way, and a file that moves between shards as files are added does so alone.
//!
//! The merge reads each file again (the summaries hold no source): for suppressions, snippets
//! and fixes. A file whose content is not what its shard analysed (a job on another commit, an
//! edit in between) is analysed again on the spot, so the report is always about the files as
//! they are.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::cache::{Cache, StoredDiagnostic};
use crate::engine::{Analysed, FileAnalysis, Options, Report};
use crate::source::{Language, SourceFile};

/// Bumped whenever the summaries' layout changes.
/// 2: facts stored packed, as a batch run keeps them (see `crate::kept`).
const FORMAT: u32 = 2;
const MAGIC: [u8; 8] = *b"unleakS\x01";
/// magic, format, identity, shard index, shard count, payload length, payload checksum.
const HEADER_LEN: usize = 8 + 4 + 16 + 4 + 4 + 8 + 8;
/// The largest summaries file read: far more than a monorepo shard's facts need.
const MAX_SUMMARIES: u64 = 8 * 1024 * 1024 * 1024;

/// Shard `index` of `count` (1-based, as CI matrices number jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let usage = || format!("`{s}` is not a shard: expected I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = i.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if index == 0 || count == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The file named `shown` (as the run names it) is analysed by this shard.
    pub fn owns(&self, shown: &Path) -> bool {
        // `/` on every platform, so a Windows job and a Linux job agree.
        let key = shown.to_string_lossy().replace('\\', "/");
        xxh3_64(key.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// The default summaries file: `unleak-shard-2-of-4.summaries`.
    pub fn default_file(&self) -> PathBuf {
        PathBuf::from(format!(
            "unleak-shard-{}-of-{}.summaries",
            self.index, self.count
        ))
    }
}

/// What one shard analysed, as written to and read from its summaries file.
pub struct Summaries {
    pub shard: Shard,
    identity: u128,
    payload: Payload,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    files: Vec<StoredFile>,
    /// Findings about paths that were never analysed (unwalkable, invalid configuration), as
    /// (path, finding); kept by shard 1 only, so they are reported once.
    loose: Vec<(String, StoredDiagnostic)>,
    /// What discovery passed over: folders, minified files, excluded files (shard 1 only).
    skipped: (usize, usize, usize),
    nothing_linted: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredFile {
    path: String,
    /// The content hash and length of the text analysed, when the file could be read.
    source: Option<(u128, u64)>,
    /// The facts' packing ([`crate::kept::pack_facts`]).
    facts: Option<Vec<u8>>,
    diagnostics: Vec<StoredDiagnostic>,
}

/// Everything that changes what a shard computes besides the files: unleak's version, the
/// summaries' format and the rule options. Shards and the merge must agree on it.
fn identity(options: &Options) -> u128 {
    let mut h = Xxh3::new();
    h.update(b"unleak shard\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(&FORMAT.to_le_bytes());
    h.update(format!("{:?}", options.rules).as_bytes());
    h.digest128()
}

impl Summaries {
    /// The summaries of a shard's analysis (`None` when a path is not UTF-8: the summaries name
    /// files by text).
    pub fn new(shard: Shard, analysed: &Analysed, options: &Options) -> Result<Summaries, String> {
        let utf8 = |p: &Path| {
            p.to_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`{}` is not a UTF-8 path", p.display()))
        };
        let mut files = Vec::with_capacity(analysed.files.len());
        for a in &analysed.files {
            let Some(path) = a
                .source_path()
                .map(Path::to_path_buf)
                .or_else(|| a.diagnostics().first().map(|d| d.file.clone()))
            else {
                continue;
            };
            files.push(StoredFile {
                path: utf8(&path)?,
                source: a
                    .source()
                    .map(|s| (Cache::content_hash(s.text.as_bytes()), s.text.len() as u64)),
                facts: a.packing().map(|p| p.to_vec()),
                diagnostics: crate::cache::store(a.diagnostics()).ok_or_else(|| {
                    format!("a finding in `{}` names a non-UTF-8 path", path.display())
                })?,
            });
        }
        let first = shard.index == 1;
        let mut loose = Vec::new();
        if first {
            for d in &analysed.diagnostics {
                let mut stored = crate::cache::store(std::slice::from_ref(d))
                    .ok_or_else(|| format!("`{}` is not a UTF-8 path", d.file.display()))?;
                loose.push((utf8(&d.file)?, stored.remove(0)));
            }
        }
        let s = &analysed.skipped;
        Ok(Summaries {
            shard,
            identity: identity(options),
            payload: Payload {
                files,
                loose,
                skipped: if first {
                    (s.dirs, s.minified, s.excluded)
                } else {
                    (0, 0, 0)
                },
                nothing_linted: analysed.nothing_linted.clone(),
            },
        })
    }

    /// Files this shard analysed.
    pub fn files(&self) -> usize {
        self.payload.files.len()
    }

    /// Writes the summaries to `path`, atomically.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let payload = postcard::to_stdvec(&self.payload)
            .map_err(|e| format!("cannot encode the summaries: {e}"))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&self.identity.to_le_bytes());
        out.extend_from_slice(&self.shard.index.to_le_bytes());
        out.extend_from_slice(&self.shard.count.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        crate::atomic::write_named(path, &out, "unleak-shard")
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }

    /// Reads a summaries file written by [`Summaries::write`].
    pub fn read(path: &Path) -> Result<Summaries, String> {
        let shown = path.display();
        let bytes = crate::fsio::read_regular(path, MAX_SUMMARIES)
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        let not_ours = || format!("`{shown}` is not an unleak summaries file");
        if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
            return Err(not_ours());
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
        if u32_at(8) != FORMAT {
            return Err(format!(
                "`{shown}` was written by another version of unleak: run every shard and the \
                 merge with the same unleak"
            ));
        }
        let identity = u128::from_le_bytes(bytes[12..28].try_into().unwrap_or_default());
        let shard = Shard {
            index: u32_at(28),
            count: u32_at(32),
        };
        let payload = &bytes[HEADER_LEN..];
        if shard.index == 0
            || shard.index > shard.count
            || u64_at(36) != payload.len() as u64
            || u64_at(44) != xxh3_64(payload)
        {
            return Err(format!("`{shown}` is damaged (truncated or altered)"));
        }
        let payload: Payload = postcard::from_bytes(payload).map_err(|_| {
            format!(
                "`{shown}` cannot be decoded: was it written by another build of unleak? Run \
                 every shard and the merge with the same unleak"
            )
        })?;
        Ok(Summaries {
            shard,
            identity,
            payload,
        })
    }
}

/// What [`merge`] did besides reporting.
#[derive(Debug, Default)]
pub struct Merged {
    pub report: Report,
    /// Files whose content changed since their shard analysed them, analysed again.
    pub reanalysed: usize,
}

/// Joins the summaries of every shard of a run (`named`: each with the file it came from, for
/// messages) into one project and reports it as one run over all the files would.
pub fn merge(named: Vec<(PathBuf, Summaries)>, options: &Options) -> Result<Merged, String> {
    let Some((first_path, first)) = named.first() else {
        return Err("no summaries to merge".into());
    };
    let count = first.shard.count;
    let mut seen: Vec<Option<&Path>> = vec![None; count as usize];
    for (path, s) in &named {
        if s.shard.count != count {
            return Err(format!(
                "`{}` is shard {} but `{}` is shard {}: merge the shards of one split",
                first_path.display(),
                first.shard,
                path.display(),
                s.shard
            ));
        }
        if s.identity != identity(options) {
            return Err(format!(
                "`{}` was made with another unleak version or other rule options ([options] in \
                 unleak.toml) than this merge: run every shard and the merge with the same unleak \
                 and configuration",
                path.display()
            ));
        }
        let slot = &mut seen[(s.shard.index - 1) as usize];
        if let Some(other) = slot {
            return Err(format!(
                "`{}` and `{}` are both shard {}",
                other.display(),
                path.display(),
                s.shard
            ));
        }
        *slot = Some(path);
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| seen[(*i - 1) as usize].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the summaries of shard{} {} are missing: merge the summaries of every shard",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    let mut analysed = Analysed::default();
    let mut stored = Vec::new();
    for (_, s) in named {
        let p = s.payload;
        analysed.skipped.dirs += p.skipped.0;
        analysed.skipped.minified += p.skipped.1;
        analysed.skipped.excluded += p.skipped.2;
        if analysed.nothing_linted.is_none() {
            analysed.nothing_linted = p.nothing_linted;
        }
        for (path, d) in &p.loose {
            let d = crate::cache::restore(d, Path::new(path))
                .ok_or_else(|| format!("a finding about `{path}` names an unknown rule"))?;
            analysed.diagnostics.push(d);
        }
        stored.extend(p.files);
    }
    // In the order one run lints them (discovery sorts paths): project rules list what they
    // see in file order, and a merge must say exactly what one run says.
    stored.sort_by(|a, b| Path::new(&a.path).cmp(Path::new(&b.path)));
    let rebuilt: Vec<(FileAnalysis, bool)> = crate::engine::in_worker_pool(options, || {
        stored
            .into_par_iter()
            .map(|f| rebuild(f, options))
            .collect()
    });
    let reanalysed = rebuilt.iter().filter(|(_, again)| *again).count();
    analysed.found = rebuilt.len();
    analysed.files = rebuilt.into_iter().map(|(a, _)| a).collect();
    Ok(Merged {
        report: crate::engine::link_analysed(&analysed, options),
        reanalysed,
    })
}

/// A stored file's analysis, with its source read again; analysed afresh (`true`) when the
/// file is no longer what its shard analysed or its stored facts do not fit it.
fn rebuild(f: StoredFile, options: &Options) -> (FileAnalysis, bool) {
    let shown = PathBuf::from(&f.path);
    let again = |shown: &Path| (crate::engine::analyse_file(shown, options), true);
    let Some((content, len)) = f.source else {
        // Not read by its shard (unreadable, too large, not text): its diagnostics say why;
        // a file that has since become readable is analysed now.
        let diagnostics: Option<Vec<_>> = f
            .diagnostics
            .iter()
            .map(|d| crate::cache::restore(d, &shown))
            .collect();
        return match diagnostics {
            Some(d) => (FileAnalysis::not_analysed(d), false),
            None => again(&shown),
        };
    };
    let Some(language) = Language::from_path(&shown) else {
        return again(&shown);
    };
    let Ok(bytes) = crate::fsio::read_regular(&shown, len.saturating_add(1)) else {
        return again(&shown);
    };
    if bytes.len() as u64 != len || Cache::content_hash(&bytes) != content {
        return again(&shown);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return again(&shown);
    };
    let packing = f.facts;
    let mut facts = match packing.as_deref().map(crate::kept::unpack_facts) {
        Some(None) => return again(&shown),
        Some(Some(f)) => Some(f),
        None => None,
    };
    if let Some(facts) = &mut facts {
        // The checksum is no proof against a planted file: check what the rules will index.
        if !facts.is_consistent(text.len()) {
            return again(&shown);
        }
        facts.finish();
    }
    let mut diagnostics = Vec::with_capacity(f.diagnostics.len());
    for d in &f.diagnostics {
        match crate::cache::restore(d, &shown).filter(|d| crate::cache::fits(d, text.len())) {
            Some(d) => diagnostics.push(d),
            None => return again(&shown),
        }
    }
    let src = SourceFile::new(shown, language, text);
    (
        FileAnalysis::restored(
            src,
            facts,
            packing.map(std::sync::Arc::from),
            diagnostics,
            options,
        )
        .packed(),
        false,
    )
}
