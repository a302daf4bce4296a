//! Asks glibc's allocator to keep the memory a program frees for its next allocations.
//!
//! By default glibc's `malloc` serves a large block (from 128 KiB, a threshold it raises as
//! such blocks are freed) with its own `mmap`, and gives it back with `munmap` when it is
//! freed; it also gives back the top of its heap once more than twice that threshold is free
//! there. A program that builds and drops the same large state again and again (a parameter
//! sweep of simulations of thousands of devices, a benchmark's iterations) then has the
//! kernel map, zero and fault in its memory page by page on every round: at 10,000 simulated
//! devices some 2,500 page faults and a few milliseconds of kernel time per run.
//!
//! [`keep_freed_memory`] fixes the threshold for `mmap` at its maximum (32 MiB on 64-bit
//! systems) and the one for trimming the heap at 256 MiB, so that freed memory stays in the
//! process and the next round reuses it. What it costs is memory held: up to 256 MiB of what
//! was freed stays with the process instead of going back to the kernel, and the peak rises by
//! what fragmentation of the heap leaves unused (up to 12 MiB in edgesim's measurements:
//! docs/performance.md, "Memory kept between runs").
//!
//! This crate holds the one `unsafe` call of edgesim (the library and its command line
//! forbid `unsafe` code): a call of `mallopt`, which only sets the allocator's parameters and
//! may be made at any time from any thread. On other platforms (musl, macOS, Windows), whose
//! allocators have no such parameters, it does nothing.

/// Blocks of at least this many bytes get their own `mmap` (glibc's largest accepted value on
/// 64-bit systems, `DEFAULT_MMAP_THRESHOLD_MAX`).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 * 1024 * 1024;

/// The heap's free top is returned to the kernel only beyond this many bytes.
pub const TRIM_THRESHOLD_BYTES: i32 = 256 * 1024 * 1024;

/// Sets glibc's `M_MMAP_THRESHOLD` and `M_TRIM_THRESHOLD` (see the crate's documentation) for
/// the whole process; returns whether the allocator took both (`false` off glibc, where it
/// does nothing). Call it once, early, from a program (not a library: the setting is the
/// process's).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` reads two integers and sets the allocator's parameters under its
        // own lock; it is valid at any time from any thread and returns 0 for a value it
        // refuses (which is reported, not assumed).
        #[allow(unsafe_code)]
        let (mmap, trim) = unsafe {
            (
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
                libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
            )
        };
        mmap == 1 && trim == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// The process's minor page faults so far (`/proc/self/stat`, field 10).
    fn minor_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
        rest.split(' ')
            .nth(7)
            .expect("field 10")
            .parse()
            .expect("a count")
    }

    /// Builds and drops 16 MiB in 2,048 blocks of 8 KiB plus one block of `large_mib` MiB, all
    /// written once (the shape of a simulation's state: many small blocks and a few large
    /// ones); the page faults that took.
    fn round(large_mib: usize) -> u64 {
        let before = minor_faults();
        let small: Vec<Vec<u8>> = (0..2048).map(|i| vec![i as u8 | 1; 8192]).collect();
        let large = vec![1u8; large_mib << 20];
        let touched = small.iter().map(|v| v[4096] as u64).sum::<u64>() + large[1 << 21] as u64;
        assert!(touched > 0);
        drop((small, large));
        minor_faults() - before
    }

    /// One test, so that no other thread of this test binary faults pages meanwhile. With
    /// glibc's defaults each round's memory is returned to the kernel when it is freed and
    /// faulted in again by the next round (some 5,000 faults); with the setting, the rounds
    /// after the first reuse what the first one mapped. The rounds with the setting use a
    /// larger block (8 MiB) than any freed before, which glibc's raised threshold would still
    /// map on its own (about 2,000 faults a round) were `M_MMAP_THRESHOLD` not set.
    #[test]
    fn later_rounds_reuse_the_memory_of_the_first() {
        let default_faults = (0..3).map(|_| round(4)).min().unwrap();
        assert!(
            default_faults >= 1000,
            "glibc's defaults return freed memory to the kernel: {default_faults} faults a round"
        );
        assert!(keep_freed_memory(), "glibc accepts both thresholds");
        round(8);
        let kept = (0..3).map(|_| round(8)).max().unwrap();
        assert!(
            kept * 10 < default_faults,
            "with freed memory kept: {kept} faults a round, {default_faults} without"
        );
    }
}
