// Allocator settings for jobs that allocate and free the same large buffers over and over.
#pragma once

namespace clearsight {

// Keeps freed blocks of up to 32 MiB in the heap for reuse (glibc's mmap threshold) and returns
// free heap to the kernel only above 256 MiB (its trim threshold), for the rest of the process.
//
// Why: a training step of the detector allocates and frees its activations and gradients (blocks
// of 0.1-30 MB) every step. With glibc's defaults many of them are mapped and unmapped each time,
// so every step pays for page faults and for the kernel zeroing fresh pages
// (bench/xray_train_bench.cc measures the difference).
//
// Leaves the allocator alone when GLIBC_TUNABLES names a malloc setting (the operator chose), and
// where the C library is not glibc. Returns whether it changed the settings. Safe to call more
// than once.
bool KeepLargeFreedBlocks();

// Caps glibc's malloc arenas (per-thread heaps) at `arenas` for the rest of the process, so that
// a server with many threads cannot hold freed memory in dozens of heaps (glibc's default is 8 per
// core). Only arenas made after the call are affected: call it before starting threads. Like
// KeepLargeFreedBlocks, leaves the allocator alone when GLIBC_TUNABLES names a malloc setting and
// where the C library is not glibc; returns whether it changed the setting.
bool LimitMallocArenas(int arenas);

}  // namespace clearsight
