// glibc malloc settings for a server that moves large bodies.
//
// By default glibc serves a 1 MiB allocation with mmap until a first free
// raises its threshold, and gives memory back to the kernel as soon as more
// than twice that sits free at the top of a heap. Request packets, Python
// bytes and reply packets of 64 KiB to a few MiB come and go on every large
// request, so each of them paid for fresh pages: page faults and the kernel
// zeroing them were half of the CPU of a 1 MiB echo (docs/performance.md).
// Fixed thresholds keep such buffers in malloc's heaps: mmap only from
// 32 MiB, and up to 64 MiB of free memory kept per heap before it is
// returned. A user's own GLIBC_TUNABLES for malloc wins.
#pragma once

namespace pycnode {

void tune_allocator();

// Loop thread. Memory freed from begin_release() to end_release() goes back
// to the system, then end_release() gives back what else sits free in any
// arena. Costs page faults for the workers' next large buffers and a walk
// of every arena: for rare moments (a connection that had a large backlog
// closes), never per request. Releases may overlap.
void begin_release();
void end_release();

}  // namespace pycnode
