//! What a file's analysis keeps between its file phase and the project phase (issue 21).
//!
//! A batch run holds every file's facts and text until the project rules have run, and those
//! dominated its peak memory (live facts are four to five times their encoding). So a batch run
//! *packs* each file as soon as its file rules are done: the facts into their postcard encoding in an LZ4 block (a third of the postcard size),
//! the text into an LZ4 block. The project phase unpacks a file when a rule asks for it and
//! frees it when the last holder lets go (a weak link remembers the unpacked copy while someone
//! holds it, so two rules looking at the same file at once share it). What the project rules
//! need from *every* file is computed before packing, small, in [`crate::rules::inputs::ProjectInputs`].
//!
//! Packing costs time (a pack, an unpack and a second index build per file: 8 % of a run on
//! the benchmark's TS corpus, a quarter on one large JS bundle), so a batch run holds files
//! live while their texts total no more than the largest file seen so far times the worker
//! count (`LiveBudget` in `crate::engine`): that much the parse already needed at its peak.
//! A run of a few huge files is never packed; a project of a thousand small ones almost
//! entirely.
//!
//! A long-running front end (the language server, `--fix`) keeps files unpacked: it re-links
//! them on every change and memory is not its constraint.
//!
//! The text is kept compressed rather than read again from disk: a run reports on the text it
//! analysed even when a file changes under it, and snippets and fixes never need a second read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use crate::facts::FileFacts;
use crate::source::{Language, SourceFile};

/// A value held live, or packed and unpacked on demand.
#[derive(Debug)]
enum Held<T> {
    /// Unpacked; with its packing when one was made already (a cache entry's).
    Live(Arc<T>, Option<Arc<[u8]>>),
    Packed {
        bytes: Arc<[u8]>,
        /// The unpacked copy while somebody holds it.
        live: Mutex<Weak<T>>,
    },
}

impl<T> Held<T> {
    fn get(&self, unpack: impl FnOnce(&[u8]) -> T) -> Arc<T> {
        match self {
            Held::Live(v, _) => v.clone(),
            Held::Packed { bytes, live } => {
                let mut live = live.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(v) = live.upgrade() {
                    return v;
                }
                let v = Arc::new(unpack(bytes));
                *live = Arc::downgrade(&v);
                v
            }
        }
    }

    fn is_packed(&self) -> bool {
        matches!(self, Held::Packed { .. })
    }
}

/// A file's facts.
#[derive(Debug, Clone)]
pub struct KeptFacts(Arc<Held<FileFacts>>);

/// The packing of facts: postcard in an LZ4 block (what the cache stores too).
pub fn pack_facts(facts: &FileFacts) -> Option<Arc<[u8]>> {
    let bytes = postcard::to_stdvec(facts).ok()?;
    Some(lz4_flex::block::compress_prepend_size(&bytes).into())
}

/// Facts from their packing, without their indices (call [`FileFacts::finish`] once they are
/// known to be sound); `None` when the bytes are not a packing.
pub fn unpack_facts(bytes: &[u8]) -> Option<FileFacts> {
    // The size prefix is not trusted with an allocation: a packing is at most this much larger
    // than its block (LZ4's best ratio is 255:1).
    let claimed = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    if claimed > bytes.len().saturating_mul(255) {
        return None;
    }
    let raw = lz4_flex::block::decompress_size_prepended(bytes).ok()?;
    postcard::from_bytes(&raw).ok()
}

impl KeptFacts {
    pub fn live(facts: Arc<FileFacts>) -> KeptFacts {
        KeptFacts(Arc::new(Held::Live(facts, None)))
    }

    /// Live facts whose packing is known (read from the cache): packing them costs nothing.
    pub fn live_packed(facts: Arc<FileFacts>, packing: Arc<[u8]>) -> KeptFacts {
        KeptFacts(Arc::new(Held::Live(facts, Some(packing))))
    }

    /// Facts known only by their packing (a cache entry's, checked when it was read): unpacked
    /// when a rule asks.
    pub fn from_packing(bytes: Arc<[u8]>) -> KeptFacts {
        KeptFacts(Arc::new(Held::Packed {
            bytes,
            live: Mutex::new(Weak::new()),
        }))
    }

    /// The facts' packing, made now unless it is known.
    pub fn packing(&self) -> Option<Arc<[u8]>> {
        match &*self.0 {
            Held::Live(_, Some(b)) | Held::Packed { bytes: b, .. } => Some(b.clone()),
            Held::Live(f, None) => pack_facts(f),
        }
    }

    /// The facts, unpacked if need be. Hold the result only as long as it is needed: a packed
    /// file is unpacked again after every holder let go.
    pub fn get(&self) -> Arc<FileFacts> {
        self.0.get(|bytes| {
            let mut facts = unpack_facts(bytes)
                .expect("facts packed by this process (or checked on reading) unpack");
            facts.finish();
            facts
        })
    }

    /// The same facts, packed (already packed ones are shared). Facts that cannot be encoded
    /// (none can fail today) stay live.
    pub fn packed(&self) -> KeptFacts {
        if self.0.is_packed() {
            return self.clone();
        }
        match self.packing() {
            Some(bytes) => KeptFacts(Arc::new(Held::Packed {
                bytes,
                live: Mutex::new(Weak::new()),
            })),
            None => self.clone(),
        }
    }
}

/// A file's text (and its line index), with its path and language readable without unpacking.
#[derive(Debug, Clone)]
pub struct KeptSource {
    path: PathBuf,
    language: Language,
    len: usize,
    held: Arc<Held<SourceFile>>,
}

impl KeptSource {
    pub fn live(source: Arc<SourceFile>) -> KeptSource {
        KeptSource {
            path: source.path.clone(),
            language: source.language,
            len: source.text.len(),
            held: Arc::new(Held::Live(source, None)),
        }
    }

    /// A text known only by its packing (a cache entry's, checked to be the file's content).
    pub fn from_packing(
        path: PathBuf,
        language: Language,
        len: usize,
        bytes: Arc<[u8]>,
    ) -> KeptSource {
        KeptSource {
            path,
            language,
            len,
            held: Arc::new(Held::Packed {
                bytes,
                live: Mutex::new(Weak::new()),
            }),
        }
    }

    /// The text's packing, when it is packed.
    pub fn packing(&self) -> Option<Arc<[u8]>> {
        match &*self.held {
            Held::Packed { bytes, .. } => Some(bytes.clone()),
            Held::Live(..) => None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Held packed (see [`KeptSource::packed`]).
    pub fn is_packed(&self) -> bool {
        self.held.is_packed()
    }

    /// The text's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The source, unpacked if need be (see [`KeptFacts::get`]).
    pub fn get(&self) -> Arc<SourceFile> {
        self.held.get(|bytes| {
            let text = lz4_flex::block::decompress(bytes, self.len)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .expect("text packed by this process unpacks (a bug otherwise)");
            SourceFile::new(self.path.clone(), self.language, text)
        })
    }

    /// The same source, packed.
    pub fn packed(&self) -> KeptSource {
        if self.held.is_packed() {
            return self.clone();
        }
        let src = self.get();
        KeptSource {
            held: Arc::new(Held::Packed {
                bytes: lz4_flex::block::compress(src.text.as_bytes()).into(),
                live: Mutex::new(Weak::new()),
            }),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_unpack_to_what_was_packed_and_are_freed_after_use() {
        let text = "const t = setInterval(() => {}, 1000);\r\nexport { t };\n// é\n".to_string();
        let src = Arc::new(SourceFile::new(
            PathBuf::from("src/a.ts"),
            Language::TypeScript,
            text.clone(),
        ));
        let facts = crate::lang::lower(
            Language::TypeScript,
            &text,
            std::time::Duration::from_secs(10),
        )
        .expect("lowers");
        let kept = KeptSource::live(src.clone()).packed();
        assert_eq!(kept.path(), Path::new("src/a.ts"));
        assert_eq!(kept.len(), text.len());
        let a = kept.get();
        assert_eq!(a.text, text);
        assert_eq!(a.lines().line_count(), src.lines().line_count());
        // Held twice at once: one copy; freed after, then unpacked afresh.
        assert!(Arc::ptr_eq(&a, &kept.get()));
        let weak = Arc::downgrade(&a);
        drop(a);
        assert!(weak.upgrade().is_none());
        assert_eq!(kept.get().text, text);

        let events = facts.events.len();
        let kf = KeptFacts::live(Arc::new(facts)).packed();
        let f = kf.get();
        assert_eq!(f.events.len(), events);
        assert!(events > 0);
        // Unpacked facts are indexed (finish ran): the timer's handle binding is found.
        assert!(f.bindings.iter().any(|b| b.name == "t"));
        assert!(Arc::ptr_eq(&kf.packed().0, &kf.0));
    }
}
