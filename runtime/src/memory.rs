//! Handing freed heap memory back to the operating system.
//!
//! glibc's allocator keeps freed memory in its arenas for reuse, so after a
//! burst of sessions (or clients that made their queues fill) the RSS stays
//! at the burst's peak although the live heap is back at baseline.
//! `malloc_trim(0)` releases the free pages of every arena; the memory-trim
//! job ([`crate::jobs::memory_trim`]) calls it when load has dropped.

/// Returns whether memory was released (always `false` off glibc).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_heap() -> bool {
    // SAFETY: malloc_trim only returns unused pages of the allocator's own
    // arenas to the OS; it is thread-safe and touches no live allocation.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Returns whether memory was released (always `false` off glibc).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_heap() -> bool {
    false
}
