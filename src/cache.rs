//! The content-hash cache: per file, its facts (packed) and file-level findings, so an
//! unchanged file is read and hashed but not parsed again; and its project-rule findings, so a
//! warm run runs the project rules only where something they read changed.
//!
//! One entry per (file path, effective configuration, unleak build), named by a hash of those;
//! the entry records the hash of the content it was made from, so an edited file misses and its
//! entry is overwritten, and the cache does not grow with edits. An entry is never trusted
//! blindly: magic, format, key, content hash, length and a checksum of the payload are checked
//! on every read, and an entry that fails any of them is ignored (and rewritten by the run that
//! re-analyses the file). Entries are written atomically (a temporary file renamed over the
//! entry), so concurrent runs never read half an entry.
//!
//! Layout: `<dir>/CACHEDIR.TAG`, `<dir>/.gitignore` (`*`), `<dir>/v<format>/<2 hex>/<30 hex>`
//! (file entries) and `<dir>/projects-v<format>` (every file's project-rule findings, one file).
//!
//! Project-rule findings of a file are kept too, keyed by the file's analysis and recorded
//! with a hash of every file's project inputs ([`crate::rules::inputs`]) and the analyses of
//! the other files the rules read while reporting in it: a warm run reuses them when neither
//! changed, and runs the project rules only on the files that did (or on all of them, when an
//! edit changed what the project joins).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64, xxh3_128};

use crate::config::Loaded;
use crate::diagnostic::{Applicability, Diagnostic, Edit, Fix, Label, Severity};
use crate::rules::RuleOptions;
use crate::rules::inputs::ProjectInputs;

/// The default cache folder's name (in the configuration's folder, or the working directory).
pub const DIR_NAME: &str = ".unleak_cache";

/// Bumped whenever the entry layout changes (the payload's own shape is covered by the build
/// identity in the key: a different binary never reads another's entries).
/// 2: events carry a `FixSite` (where a fix goes) instead of a rendered fix.
/// 3: facts without their derived indices, which are rebuilt after the facts are checked.
/// 6: the payload is the facts' packing (postcard in an LZ4 block, as a batch run keeps them:
///    a warm run neither re-encodes nor re-compresses them) after its length (`u64::MAX`: no
///    facts), then the diagnostics in postcard.
/// 7: the project inputs (summaries and what else the project rules read; postcard) and the
///    text's LZ4 packing follow the facts, each after its length: a warm run neither unpacks
///    nor re-summarises a file whose facts no project rule reports from, nor compresses its
///    text again.
const FORMAT: u32 = 7;
/// The largest entry read back: far more than the facts of a 2 MiB file need.
const MAX_ENTRY: u64 = 256 * 1024 * 1024;
const MAGIC: [u8; 8] = *b"unleakC\x01";
/// magic, format, key, content hash, payload length, payload checksum.
const HEADER_LEN: usize = 8 + 4 + 16 + 16 + 8 + 8;

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by unleak.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// What a run did with the cache (for `--statistics` and the tests).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    /// Files whose facts and findings came from the cache.
    pub hits: usize,
    /// Files analysed (no entry, a stale one, or an unusable one).
    pub analysed: usize,
    /// Entries that were present but unusable (corrupt, truncated, foreign): ignored.
    pub rejected: usize,
    /// Entries written.
    pub written: usize,
    /// Files whose project-rule findings came from the cache.
    pub project_hits: usize,
}

/// An open cache folder.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    entries: PathBuf,
    /// Every file's project-rule findings, in one file (see [`ProjectFindings`]).
    projects: PathBuf,
    /// unleak's version, this build's identity, the rule options and the format.
    salt: u128,
    /// Per configuration seen, the hash of what it says (memoised: one per folder, not per file).
    configs: Mutex<Vec<(Arc<Loaded>, u128)>>,
    hits: AtomicUsize,
    analysed: AtomicUsize,
    rejected: AtomicUsize,
    written: AtomicUsize,
    project_hits: AtomicUsize,
}

/// An entry read back: the facts' packing (checked against the file), the project inputs the
/// file's analysis made from them (checked to fit the facts) and the text's packing (checked to
/// be the file's content).
pub struct Entry {
    /// `None`: the file had no facts.
    pub packing: Option<Arc<[u8]>>,
    /// `None`: the analysis could not make them (the file sits out the project rules).
    pub inputs: Option<ProjectInputs>,
    /// The text in an LZ4 block, as a batch run keeps it (`None`: not stored).
    pub text: Option<Arc<[u8]>>,
}

/// What an entry stores besides the findings, each optional: the facts' packing, the project
/// inputs, the text's packing.
#[derive(Default, Clone, Copy)]
pub struct Sections<'a> {
    pub facts: Option<&'a [u8]>,
    pub inputs: Option<&'a ProjectInputs>,
    pub text: Option<&'a [u8]>,
}

/// Whether `packed` is an LZ4 block of exactly `file` (decompressing is several times faster
/// than compressing the text again).
fn packs(packed: &[u8], file: &[u8]) -> bool {
    let mut out = vec![0; file.len()];
    matches!(lz4_flex::block::decompress_into(packed, &mut out), Ok(n) if n == file.len())
        && out == file
}

/// A label or an edit: its file (`None`: the diagnostic's), range and text.
type StoredSpan = (Option<String>, std::ops::Range<usize>, String);

/// A [`Diagnostic`] without its file (the entry is per file) and with its rule as a string.
#[derive(Serialize, Deserialize, Clone)]
pub(crate) struct StoredDiagnostic {
    rule: String,
    severity: u8,
    range: std::ops::Range<usize>,
    message: String,
    help: Option<String>,
    labels: Vec<StoredSpan>,
    fixes: Vec<(String, u8, Vec<StoredSpan>)>,
}

impl Cache {
    /// Opens (creating when needed) the cache folder `dir` for a run with these rule options.
    pub fn open(dir: &Path, rules: &RuleOptions) -> std::io::Result<Cache> {
        let entries = dir.join(format!("v{FORMAT}"));
        std::fs::create_dir_all(&entries)?;
        let tag = dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            crate::atomic::write(&tag, CACHEDIR_TAG.as_bytes(), "cache")?;
        }
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            crate::atomic::write(&ignore, b"# Automatically created by unleak.\n*\n", "cache")?;
        }
        let mut h = Xxh3::new();
        h.update(b"unleak cache\0");
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(&FORMAT.to_le_bytes());
        h.update(&build_identity().to_le_bytes());
        h.update(format!("{rules:?}").as_bytes());
        Ok(Cache {
            dir: dir.to_path_buf(),
            projects: dir.join(format!("projects-v{FORMAT}")),
            entries,
            salt: h.digest128(),
            configs: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
            analysed: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            written: AtomicUsize::new(0),
            project_hits: AtomicUsize::new(0),
        })
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            analysed: self.analysed.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            project_hits: self.project_hits.load(Ordering::Relaxed),
        }
    }

    /// The key of a file's entry: its path as shown, its effective configuration, the salt.
    pub fn key(&self, shown: &Path, config: Option<&Arc<Loaded>>) -> u128 {
        let mut h = Xxh3::new();
        h.update(&self.salt.to_le_bytes());
        h.update(&self.config_hash(config).to_le_bytes());
        h.update(shown.as_os_str().as_encoded_bytes());
        h.digest128()
    }

    fn config_hash(&self, config: Option<&Arc<Loaded>>) -> u128 {
        let Some(config) = config else {
            return 0;
        };
        let mut seen = match self.configs.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((_, h)) = seen.iter().find(|(c, _)| Arc::ptr_eq(c, config)) {
            return *h;
        }
        // Everything the file's configuration says, and where it lives (globs are relative).
        let text = serde_json::to_string(&config.config).unwrap_or_default();
        let mut h = Xxh3::new();
        h.update(text.as_bytes());
        h.update(config.root.as_os_str().as_encoded_bytes());
        let hash = h.digest128();
        seen.push((config.clone(), hash));
        hash
    }

    /// The hash of a file's content, as entries record it.
    pub fn content_hash(bytes: &[u8]) -> u128 {
        xxh3_128(bytes)
    }

    fn path_of(&self, key: u128) -> PathBuf {
        let hex = format!("{key:032x}");
        self.entries.join(&hex[..2]).join(&hex[2..])
    }

    /// What identifies one file's analysis: its entry's key and the content it was made from.
    pub fn analysis_key(key: u128, content: u128) -> u128 {
        let mut h = Xxh3::new();
        h.update(&key.to_le_bytes());
        h.update(&content.to_le_bytes());
        h.digest128()
    }

    /// The project-rule findings the last run stored (see [`ProjectFindings`]).
    pub fn project_findings(&self) -> ProjectFindings {
        let key = project_key(0);
        let old = crate::fsio::read_regular(&self.projects, MAX_ENTRY)
            .ok()
            .and_then(|bytes| match checked_payload(&bytes, key, 0) {
                Ok(p) => postcard::from_bytes::<Vec<StoredFindings>>(p).ok(),
                Err(_) => None,
            });
        if old.is_none() && self.projects.exists() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
        ProjectFindings {
            old: old
                .unwrap_or_default()
                .into_iter()
                .map(|f| (f.file, f))
                .collect(),
            new: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
        }
    }

    /// The entry for `key` made from content hashing to `content`, if there is a sound one.
    /// `shown` is the file's path, given to the diagnostics read back.
    /// `file` is the file's content: the entry's facts and findings must fit inside it, and its
    /// packed text must be it.
    pub fn get(
        &self,
        key: u128,
        content: u128,
        file: &[u8],
        shown: &Path,
    ) -> Option<(Entry, Vec<Diagnostic>)> {
        // A planted FIFO or a huge sparse file is a miss, never a hang or a gigabyte read.
        let got = match crate::fsio::read_regular(&self.path_of(key), MAX_ENTRY) {
            Ok(bytes) => match decode(&bytes, key, content, file.len(), shown) {
                Decoded::Ok(e, d) if e.text.as_deref().is_none_or(|t| packs(t, file)) => {
                    Some((*e, d))
                }
                Decoded::Ok(..) => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Decoded::Stale => None,
                Decoded::Corrupt => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                    None
                }
            },
            Err(_) => None,
        };
        if got.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.analysed.fetch_add(1, Ordering::Relaxed);
        }
        got
    }

    /// Stores a file's facts and file-level findings. Failures are silent: the cache is an
    /// optimisation, never a reason for a run to fail.
    pub fn put(&self, key: u128, content: u128, sections: Sections, diagnostics: &[Diagnostic]) {
        let Some(bytes) = encode(key, content, sections, diagnostics) else {
            return;
        };
        let path = self.path_of(key);
        let ok = write_atomically(&path, &bytes).is_ok()
            || (path
                .parent()
                .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
                && write_atomically(&path, &bytes).is_ok());
        if ok {
            self.written.fetch_add(1, Ordering::Relaxed);
        }
    }
}

enum Decoded {
    Ok(Box<Entry>, Vec<Diagnostic>),
    /// A sound entry for an older content of the file.
    Stale,
    /// Not an entry this build can use.
    Corrupt,
}

/// One file's project-rule findings as stored: made over a project whose inputs hashed to
/// `project`, reading the analyses `reads` of other files.
#[derive(Serialize, Deserialize, Clone)]
struct StoredFindings {
    file: u128,
    project: u128,
    reads: Vec<u128>,
    found: Vec<StoredDiagnostic>,
}

/// The project-rule findings of every file of the last run, read from one file at the start of
/// the project pass and written as one file at its end — a file per source file cost an
/// `openat` of a third of a millisecond each on an ext4 disk, most of a cold cached run. A run
/// keeps the findings of its own files (a run over part of the project drops the others',
/// which the next full run makes again).
pub struct ProjectFindings {
    old: std::collections::HashMap<u128, StoredFindings>,
    new: Mutex<Vec<StoredFindings>>,
    hits: AtomicUsize,
}

impl ProjectFindings {
    /// The findings stored for the file whose analysis is `file` (see [`Cache::analysis_key`])
    /// when they were made over a project whose inputs hash to `project` and every other file
    /// they read is still `live`; `len` is the file's length, which the findings must fit.
    pub fn get(
        &self,
        file: u128,
        project: u128,
        len: usize,
        shown: &Path,
        live: &dyn Fn(u128) -> bool,
    ) -> Option<Vec<Diagnostic>> {
        let stored = self.old.get(&file)?;
        if stored.project != project || !stored.reads.iter().all(|r| live(*r)) {
            return None;
        }
        let found: Vec<Diagnostic> = stored
            .found
            .iter()
            .map(|d| restore(d, shown).filter(|d| fits(d, len)))
            .collect::<Option<_>>()?;
        self.keep(stored.clone());
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(found)
    }

    /// Records the findings of one file (see [`ProjectFindings::get`]): `reads` are the
    /// analyses of the other files they read.
    pub fn put(&self, file: u128, project: u128, reads: Vec<u128>, found: &[Diagnostic]) {
        if let Some(found) = store(found) {
            self.keep(StoredFindings {
                file,
                project,
                reads,
                found,
            });
        }
    }

    fn keep(&self, f: StoredFindings) {
        match self.new.lock() {
            Ok(mut new) => new.push(f),
            Err(poisoned) => poisoned.into_inner().push(f),
        }
    }

    /// Writes this run's findings (failures are silent, as for every entry).
    pub fn save(self, cache: &Cache) {
        cache
            .project_hits
            .fetch_add(self.hits.into_inner(), Ordering::Relaxed);
        let mut new = match self.new.into_inner() {
            Ok(n) => n,
            Err(p) => p.into_inner(),
        };
        new.sort_by_key(|f| f.file);
        let Ok(payload) = postcard::to_stdvec(&new) else {
            return;
        };
        let _ = write_atomically(&cache.projects, &framed(project_key(0), 0, &payload));
    }
}

/// The key of the project-findings file.
fn project_key(file: u128) -> u128 {
    let mut h = Xxh3::new();
    h.update(b"project findings\0");
    h.update(&file.to_le_bytes());
    h.digest128()
}

/// An entry's payload, when its header is sound, names `key` and was made from `content`.
fn checked_payload(bytes: &[u8], key: u128, content: u128) -> Result<&[u8], Decoded> {
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
        return Err(Decoded::Corrupt);
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
    let u128_at = |i: usize| u128::from_le_bytes(bytes[i..i + 16].try_into().unwrap_or_default());
    if u32_at(8) != FORMAT || u128_at(12) != key {
        return Err(Decoded::Corrupt);
    }
    let payload = &bytes[HEADER_LEN..];
    if u64_at(44) != payload.len() as u64 || u64_at(52) != xxh3_64(payload) {
        return Err(Decoded::Corrupt);
    }
    if u128_at(28) != content {
        return Err(Decoded::Stale);
    }
    Ok(payload)
}

fn decode(bytes: &[u8], key: u128, content: u128, len: usize, shown: &Path) -> Decoded {
    let payload = match checked_payload(bytes, key, content) {
        Ok(p) => p,
        Err(d) => return d,
    };
    let Some((packing, rest)) = split_section(payload) else {
        return Decoded::Corrupt;
    };
    let Some((inputs, rest)) = split_section(rest) else {
        return Decoded::Corrupt;
    };
    let Some((text, rest)) = split_section(rest) else {
        return Decoded::Corrupt;
    };
    let Ok(stored) = postcard::from_bytes::<Vec<StoredDiagnostic>>(rest) else {
        return Decoded::Corrupt;
    };
    let inputs = match inputs.map(postcard::from_bytes::<ProjectInputs>) {
        Some(Ok(i)) => Some(i),
        Some(Err(_)) => return Decoded::Corrupt,
        None => None,
    };
    // The checksum proves nothing against a forged entry: check what the rules will index. The
    // facts are decoded for the check and dropped; the run keeps their packing.
    match packing.map(crate::kept::unpack_facts) {
        Some(Some(f))
            if f.is_consistent(len) && inputs.as_ref().is_none_or(|i| i.fits(&f, len)) => {}
        None if inputs.is_none() => {}
        _ => return Decoded::Corrupt,
    }
    let entry = Entry {
        packing: packing.map(Arc::from),
        inputs,
        text: text.map(Arc::from),
    };
    let mut diagnostics = Vec::with_capacity(stored.len());
    for d in &stored {
        let Some(diag) = restore(d, shown).filter(|d| fits(d, len)) else {
            return Decoded::Corrupt;
        };
        diagnostics.push(diag);
    }
    Decoded::Ok(Box::new(entry), diagnostics)
}

/// A payload's length-prefixed section (`None`: absent; the facts packing, then the project
/// inputs, then the text packing) and what follows it.
fn split_section(payload: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let len = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let rest = &payload[8..];
    if len == u64::MAX {
        return Some((None, rest));
    }
    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len())?;
    Some((Some(&rest[..len]), &rest[len..]))
}

fn encode(
    key: u128,
    content: u128,
    sections: Sections,
    diagnostics: &[Diagnostic],
) -> Option<Vec<u8>> {
    let stored = postcard::to_stdvec(&store(diagnostics)?).ok()?;
    let inputs = match sections.inputs {
        Some(i) => Some(postcard::to_stdvec(i).ok()?),
        None => None,
    };
    let sections = [sections.facts, inputs.as_deref(), sections.text];
    let mut payload = Vec::with_capacity(
        16 + sections
            .iter()
            .map(|s| s.map_or(0, <[u8]>::len))
            .sum::<usize>()
            + stored.len(),
    );
    for s in sections {
        payload.extend_from_slice(&s.map_or(u64::MAX, |s| s.len() as u64).to_le_bytes());
        payload.extend_from_slice(s.unwrap_or_default());
    }
    payload.extend_from_slice(&stored);
    Some(framed(key, content, &payload))
}

/// A payload under its header: magic, format, key, content hash, length, checksum.
fn framed(key: u128, content: u128, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&content.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Diagnostics as stored, without their file (`None` when a path is not UTF-8).
pub(crate) fn store(diagnostics: &[Diagnostic]) -> Option<Vec<StoredDiagnostic>> {
    let path = |p: &Option<PathBuf>| -> Option<Option<String>> {
        match p {
            None => Some(None),
            Some(p) => p.to_str().map(|s| Some(s.to_string())),
        }
    };
    let mut stored = Vec::with_capacity(diagnostics.len());
    for d in diagnostics {
        let mut labels = Vec::new();
        for l in &d.labels {
            labels.push((path(&l.file)?, l.range.clone(), l.message.clone()));
        }
        let mut fixes = Vec::new();
        for f in &d.fixes {
            let mut edits = Vec::new();
            for e in &f.edits {
                edits.push((path(&e.file)?, e.range.clone(), e.content.clone()));
            }
            fixes.push((f.title.clone(), applicability_code(f.applicability), edits));
        }
        stored.push(StoredDiagnostic {
            rule: d.rule.to_string(),
            severity: severity_code(d.severity),
            range: d.range.clone(),
            message: d.message.clone(),
            help: d.help.clone(),
            labels,
            fixes,
        });
    }
    Some(stored)
}

/// A finding read back points inside its file (labels and edits in other files are checked
/// when those are rendered).
pub(crate) fn fits(d: &Diagnostic, len: usize) -> bool {
    let inside = |r: &std::ops::Range<usize>| r.start <= r.end && r.end <= len;
    inside(&d.range)
        && d.labels
            .iter()
            .all(|l| l.file.is_some() || inside(&l.range))
        && d.fixes
            .iter()
            .flat_map(|f| &f.edits)
            .all(|e| e.file.is_some() || inside(&e.range))
}

/// A stored diagnostic given back its file; `None` when it names an unknown rule or level.
pub(crate) fn restore(d: &StoredDiagnostic, shown: &Path) -> Option<Diagnostic> {
    Some(Diagnostic {
        rule: rule_id(&d.rule)?,
        severity: severity_from(d.severity)?,
        file: shown.to_path_buf(),
        range: d.range.clone(),
        message: d.message.clone(),
        help: d.help.clone(),
        labels: d
            .labels
            .iter()
            .map(|(file, range, message)| Label {
                file: file.as_ref().map(PathBuf::from),
                range: range.clone(),
                message: message.clone(),
            })
            .collect(),
        fixes: d
            .fixes
            .iter()
            .map(|(title, app, edits)| {
                Some(Fix {
                    title: title.clone(),
                    applicability: applicability_from(*app)?,
                    edits: edits
                        .iter()
                        .map(|(file, range, content)| Edit {
                            file: file.as_ref().map(PathBuf::from),
                            range: range.clone(),
                            content: content.clone(),
                        })
                        .collect(),
                })
            })
            .collect::<Option<Vec<_>>>()?,
    })
}

/// The `&'static` id of a rule named in an entry; `None` (a foreign entry) when unknown.
fn rule_id(id: &str) -> Option<&'static str> {
    crate::diagnostic::FAILURES
        .into_iter()
        .find(|f| *f == id)
        .or_else(|| crate::registry::find(id).map(|r| r.meta().id))
}

fn severity_code(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

fn severity_from(c: u8) -> Option<Severity> {
    Some(match c {
        0 => Severity::Info,
        1 => Severity::Warning,
        2 => Severity::Error,
        _ => return None,
    })
}

fn applicability_code(a: Applicability) -> u8 {
    match a {
        Applicability::Safe => 0,
        Applicability::Unsafe => 1,
        Applicability::DisplayOnly => 2,
    }
}

fn applicability_from(c: u8) -> Option<Applicability> {
    Some(match c {
        0 => Applicability::Safe,
        1 => Applicability::Unsafe,
        2 => Applicability::DisplayOnly,
        _ => return None,
    })
}

/// This build of unleak: its executable's size and modification time. A rebuilt binary (new
/// rules, a new facts layout) never reads the entries of another; version alone would not tell
/// two development builds apart.
fn build_identity() -> u64 {
    let Ok(exe) = std::env::current_exe() else {
        return 0;
    };
    let Ok(meta) = std::fs::metadata(&exe) else {
        return 0;
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    let mut h = Xxh3::new();
    h.update(exe.as_os_str().as_encoded_bytes());
    h.update(&meta.len().to_le_bytes());
    h.update(&mtime.to_le_bytes());
    h.digest()
}

/// Writes an entry atomically ([`crate::atomic::write`]).
/// Entries are checked on every read, so a torn one (after a crash) is a miss: no fsync.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::atomic::write_checked(path, bytes, "cache")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FileFacts;

    fn sample() -> (FileFacts, Vec<Diagnostic>) {
        let facts = crate::lang::ts::lower(
            "const t = setInterval(() => {}, 10);\n",
            crate::source::Language::TypeScript,
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        let d = Diagnostic::new(
            "orphaned-interval",
            Severity::Error,
            PathBuf::from("a.ts"),
            6..7,
            "m",
        )
        .with_help("h")
        .with_label(0..1, "l");
        (facts, vec![d])
    }

    #[test]
    fn round_trip_and_every_damage_is_rejected() {
        let (facts, diags) = sample();
        let src = "const t = setInterval(() => {}, 10);\n";
        let inputs = ProjectInputs::build(&facts, src, &RuleOptions::default());
        let packing = crate::kept::pack_facts(&facts);
        let bytes = encode(
            7,
            9,
            Sections {
                facts: packing.as_deref(),
                inputs: Some(&inputs),
                ..Sections::default()
            },
            &diags,
        )
        .unwrap();
        let Decoded::Ok(e, d) = decode(&bytes, 7, 9, 1000, Path::new("a.ts")) else {
            panic!("sound entry rejected");
        };
        assert_eq!(d, diags);
        assert_eq!(e.packing.as_deref(), packing.as_deref(), "facts survive");
        assert_eq!(
            format!("{:?}", e.inputs.expect("inputs survive")),
            format!("{inputs:?}")
        );
        assert!(matches!(
            decode(&bytes, 7, 10, 1000, Path::new("a.ts")),
            Decoded::Stale
        ));
        assert!(matches!(
            decode(&bytes, 8, 9, 1000, Path::new("a.ts")),
            Decoded::Corrupt
        ));
        // Every truncation and every single flipped byte is caught.
        for n in 0..bytes.len() {
            assert!(
                matches!(
                    decode(&bytes[..n], 7, 9, 1000, Path::new("a.ts")),
                    Decoded::Corrupt
                ),
                "truncated to {n}"
            );
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(
                !matches!(decode(&bad, 7, 9, 1000, Path::new("a.ts")), Decoded::Ok(..)),
                "flipped byte {i}"
            );
        }
    }

    /// A forged entry — inconsistent facts or findings past the end of the file, with the
    /// checksum recomputed — is a miss, not trusted (two project rules panicked on one).
    #[test]
    fn forged_entries_with_a_valid_checksum_are_rejected() {
        let (facts, diags) = sample();
        let len = 40;
        // What a 40-byte file makes of an entry of these sections and findings.
        let read = |sections: Sections, diags: &[Diagnostic]| {
            let bytes = encode(7, 9, sections, diags).unwrap();
            decode(&bytes, 7, 9, len, Path::new("a.ts"))
        };
        let corrupt = |sections: Sections, diags: &[Diagnostic]| {
            matches!(read(sections, diags), Decoded::Corrupt)
        };
        let with_facts = |facts| Sections {
            facts,
            ..Sections::default()
        };
        let mut forged = facts.clone();
        forged.events[0].scope = 1_000;
        let forged = crate::kept::pack_facts(&forged);
        assert!(corrupt(with_facts(forged.as_deref()), &diags));
        let packing = crate::kept::pack_facts(&facts);
        let mut far = diags.clone();
        far[0].range = 5..500;
        assert!(corrupt(with_facts(packing.as_deref()), &far));
        // A packing that is not one (or claims a huge size), under a valid checksum.
        assert!(corrupt(
            with_facts(Some(b"\xff\xff\xff\x7fgarbage")),
            &diags
        ));
        assert!(corrupt(
            with_facts(Some(&[3, 0, 0, 0, 0x30, b'a', b'b', b'c'])),
            &diags
        ));
        // Inputs that point past the facts (an event, a span), or inputs without facts.
        let src = "const t = setInterval(() => {}, 10);\n";
        let inputs = ProjectInputs::build(&facts, src, &RuleOptions::default());
        let with = |facts, inputs| Sections {
            facts,
            inputs: Some(inputs),
            ..Sections::default()
        };
        let mut far_event = ProjectInputs::build(&facts, src, &RuleOptions::default());
        far_event.client_sites.push((1_000, "OpenAI".into()));
        assert!(corrupt(with(packing.as_deref(), &far_event), &diags));
        let mut far_span = ProjectInputs::build(&facts, src, &RuleOptions::default());
        far_span.size_events.push(crate::rules::inputs::SizeEvent {
            name: "m".into(),
            kind: crate::rules::inputs::SizeKind::Grow,
            repeated: true,
            span: 30..90,
            stmt: 30..90,
            scope: String::new(),
            subscribes: false,
        });
        assert!(corrupt(with(packing.as_deref(), &far_span), &diags));
        assert!(corrupt(with(None, &inputs), &diags));
        assert!(matches!(
            read(with(packing.as_deref(), &inputs), &diags),
            Decoded::Ok(..)
        ));
    }

    /// A stored text is used only when it unpacks to exactly the file read.
    #[test]
    fn a_stored_text_must_be_the_file() {
        let text = b"const t = setInterval(() => {}, 10);\n";
        let packed = lz4_flex::block::compress(text);
        assert!(packs(&packed, text));
        assert!(!packs(&packed, b"const t = setInterval(() => {}, 11);\n"));
        assert!(!packs(&packed, &text[..10]));
        assert!(!packs(b"\xffgarbage", text));
        // Sections round-trip in their places.
        let (facts, diags) = sample();
        let bytes = encode(
            7,
            9,
            Sections {
                facts: crate::kept::pack_facts(&facts).as_deref(),
                text: Some(&packed),
                ..Sections::default()
            },
            &diags,
        )
        .unwrap();
        let Decoded::Ok(e, _) = decode(&bytes, 7, 9, text.len(), Path::new("a.ts")) else {
            panic!("sound entry rejected");
        };
        assert_eq!(e.text.as_deref(), Some(&packed[..]));
        assert!(e.inputs.is_none());
    }
}
