// Storage for large packets, kept for reuse instead of given back to malloc.
//
// Why: with many requests of a MiB or more in flight, glibc serves them from
// each thread's arena, whose heaps (64 MiB at most) it maps as they fill and
// may give back as they empty; every page of a fresh mapping faults in as
// the socket read writes it, and on a VM a fault costs several microseconds
// (docs/performance.md measures it: about 7 faults per 1 MiB request at 64
// callers before this). A freed block of the same rounded size is taken
// again, already resident. What is kept is bounded (max_kept_bytes) and is
// given back once no block has been taken for idle_after, and whenever
// pycnode releases memory (app/allocator.hpp).
//
// Any thread may take and give; one mutex, taken once per packet of
// min_size bytes or more, guards the list.
#pragma once

#include <chrono>
#include <cstddef>

namespace pycnode::net::large_blocks {

// Smaller packets come from malloc as they are.
inline constexpr std::size_t min_size = 256 << 10;
// Sizes are rounded up to this, so requests of nearly the same size (the
// same body, a few header bytes apart) share blocks.
inline constexpr std::size_t granule = 64 << 10;
// The most that waits for reuse; a block given beyond it is freed.
inline constexpr std::size_t max_kept_bytes = 64 << 20;

// The size a block for `size` bytes has: `size` rounded up to the granule.
std::size_t capacity_for(std::size_t size);
// A block of capacity_for(size) bytes (size >= min_size), uninitialised:
// a kept one of that capacity if any, else a new one.
char* take(std::size_t size);
// Gives back a block from take(size).
void give(char* block, std::size_t size);
// Frees every kept block.
void release_all();
// Frees every kept block if none was taken for idle_after (the watchdog
// asks, every tick): a burst of large bodies leaves nothing behind.
inline constexpr std::chrono::seconds idle_after{10};
void release_if_idle(std::chrono::steady_clock::time_point now);
// Bytes kept now (stats, tests).
std::size_t kept_bytes();

}  // namespace pycnode::net::large_blocks
