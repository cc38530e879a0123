#include "app/allocator.hpp"

#include "net/large_blocks.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace pycnode {
namespace {

constexpr int mmap_threshold = 32 << 20;
constexpr int trim_threshold = 64 << 20;
// glibc's own default: a heap whose free top reaches this is trimmed.
constexpr int releasing_trim_threshold = 128 << 10;

bool tuned = false;   // set before any thread starts, read-only after
int releasing = 0;    // loop thread only: releases under way

}  // namespace

void tune_allocator() {
#if defined(__GLIBC__)
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
    tuned = true;
#endif
}

// glibc trims a thread arena's heap only when a free() leaves its top chunk
// over M_TRIM_THRESHOLD, and malloc_trim does not trim those tops at all:
// with the tuned threshold (64 MiB, the size of a whole heap) what a
// worker's heap freed at its top stays resident. Lowered for the frees
// that follow, each gives its heap's free top back at once.
void begin_release() {
#if defined(__GLIBC__)
    if (tuned && releasing++ == 0) mallopt(M_TRIM_THRESHOLD, releasing_trim_threshold);
#endif
}

// Since glibc 2.8 malloc_trim also gives back the whole free pages inside
// the chunks of every arena (madvise), not only the main heap's top.
void end_release() {
#if defined(__GLIBC__)
    if (tuned && releasing > 0 && --releasing == 0) mallopt(M_TRIM_THRESHOLD, trim_threshold);
    if (releasing == 0) {
        net::large_blocks::release_all();
        malloc_trim(0);
    }
#else
    net::large_blocks::release_all();
#endif
}

}  // namespace pycnode
