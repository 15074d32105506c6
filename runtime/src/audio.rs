//! Per-session audio: a capped input buffer and an optional recording file.
//!
//! Fix for *buffer-concat-in-loop*: audio chunks are appended into one
//! [`BytesMut`] with `extend_from_slice` under a hard cap, never by
//! re-concatenating the whole buffer per chunk.
//!
//! Fix for *unclosed-stream*: a [`Recording`] owns its file; `finish` flushes
//! and syncs it on the normal path and `Drop` closes it on every other path
//! (errors, cancellation, panics), keeping the open-files gauge exact.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;

use crate::metrics::{GaugeGuard, Metrics};
use crate::sessions::SessionId;

/// The buffer is full; the chunk was not added.
#[derive(Debug, thiserror::Error)]
#[error(
    "audio buffer full: {buffered} bytes buffered, chunk of {chunk} bytes exceeds cap of {cap}"
)]
pub struct AudioOverflow {
    pub buffered: usize,
    pub chunk: usize,
    pub cap: usize,
}

/// Input audio accumulated for the current turn, at most `cap` bytes.
#[derive(Debug)]
pub struct AudioBuffer {
    buf: BytesMut,
    cap: usize,
    metrics: Arc<Metrics>,
}

impl AudioBuffer {
    pub fn new(cap: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            buf: BytesMut::new(),
            cap,
            metrics,
        }
    }

    /// Appends a chunk in place, refusing it whole if it would pass the cap.
    pub fn append(&mut self, chunk: &[u8]) -> Result<(), AudioOverflow> {
        if self.buf.len() + chunk.len() > self.cap {
            return Err(AudioOverflow {
                buffered: self.buf.len(),
                chunk: chunk.len(),
                cap: self.cap,
            });
        }
        self.buf.extend_from_slice(chunk);
        self.metrics.audio_bytes.add(len_i64(chunk.len()));
        Ok(())
    }

    /// Takes the buffered turn, leaving the buffer empty.
    pub fn take(&mut self) -> Bytes {
        let taken = self.buf.split().freeze();
        self.metrics.audio_bytes.sub(len_i64(taken.len()));
        taken
    }

    pub fn clear(&mut self) {
        self.metrics.audio_bytes.sub(len_i64(self.buf.len()));
        self.buf.clear();
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

impl Drop for AudioBuffer {
    fn drop(&mut self) {
        self.metrics.audio_bytes.sub(len_i64(self.buf.len()));
    }
}

fn len_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A session's input audio written to `<dir>/session-<id>.ulaw`.
#[derive(Debug)]
pub struct Recording {
    file: tokio::fs::File,
    path: PathBuf,
    written: u64,
    // Dropped together with `file`, so the gauge tracks open descriptors.
    _open: GaugeGuard,
}

impl Recording {
    pub async fn create(
        dir: &Path,
        session: SessionId,
        metrics: &Arc<Metrics>,
    ) -> std::io::Result<Self> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!("session-{session}.ulaw"));
        let file = tokio::fs::File::create(&path).await?;
        Ok(Self {
            file,
            path,
            written: 0,
            _open: metrics.track(|m| &m.recordings_open),
        })
    }

    pub async fn write(&mut self, audio: &[u8]) -> std::io::Result<()> {
        self.file.write_all(audio).await?;
        self.written += audio.len() as u64;
        Ok(())
    }

    /// Flushes and syncs, then closes the file; returns bytes written.
    pub async fn finish(mut self) -> std::io::Result<u64> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(self.written)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_capped_and_tracks_gauge() {
        let metrics = Metrics::new();
        let mut buf = AudioBuffer::new(10, Arc::clone(&metrics));
        buf.append(&[1; 6]).unwrap();
        let err = buf.append(&[2; 5]).unwrap_err();
        assert_eq!((err.buffered, err.chunk, err.cap), (6, 5, 10));
        buf.append(&[3; 4]).unwrap();
        assert_eq!(metrics.audio_bytes.get(), 10);
        let turn = buf.take();
        assert_eq!(turn.len(), 10);
        assert_eq!(metrics.audio_bytes.get(), 0);
        buf.append(&[4; 3]).unwrap();
        drop(buf);
        assert_eq!(metrics.audio_bytes.get(), 0);
    }

    #[tokio::test]
    async fn recording_closes_on_finish_and_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Metrics::new();
        let mut rec = Recording::create(dir.path(), 1, &metrics).await.unwrap();
        rec.write(b"abc").await.unwrap();
        assert_eq!(metrics.recordings_open.get(), 1);
        let path = rec.path().to_owned();
        assert_eq!(rec.finish().await.unwrap(), 3);
        assert_eq!(metrics.recordings_open.get(), 0);
        assert_eq!(std::fs::read(path).unwrap(), b"abc");

        let rec = Recording::create(dir.path(), 2, &metrics).await.unwrap();
        assert_eq!(metrics.recordings_open.get(), 1);
        drop(rec); // error path: no finish
        assert_eq!(metrics.recordings_open.get(), 0);
    }
}
