//! The server's own memory: what it reports (`unleak/memoryUsage`) and what it hands back.

/// Bytes of heap the process holds in live allocations, where the allocator can tell
/// (glibc: `mallinfo2`, summed over every arena; memory mapped for large blocks included).
/// Unlike the resident size, this does not move with memory the allocator keeps for reuse or
/// with stack pages a deep file once touched: it is the number a leak makes grow.
pub fn heap_in_use() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallinfo2` only reads the allocator's statistics.
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// The process's resident set size in bytes, where the system tells (Linux: `/proc`).
pub fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Hands the memory an analysis freed back to the system once the worker goes idle. glibc keeps
/// freed memory in the arenas of the threads that used it, so a burst of edits left the server
/// holding its peak for good (36 MB after 1,000 soak messages, 60 MB after 10,000, with the same
/// live heap); other allocators return memory on their own.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free pages of glibc's heap; it touches no memory the
    // program holds.
    unsafe {
        libc::malloc_trim(0);
    }
}
