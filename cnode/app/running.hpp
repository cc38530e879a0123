// What each thread is running right now, for the report of a crash: one
// slot per thread in a fixed table. A thread writes its own slot when a
// request starts and ends (a few bounded copies and stores: no allocation,
// no formatting, no lock); any thread may read any slot at any moment,
// a fatal-signal handler included (app/fatal_signals.cpp), and so does
// pyrunner's os._exit wrapper for its own thread (_pycnode.running()).
//
// An event worker drives many requests in turn: its slot names the one it
// drives right now (a job, or one step of a waiting request's task, see
// pyrunner/worker_loop.py), or its event loop while it runs other
// callbacks.
//
// Readers never see half a label: a slot is a seqlock (the owner makes its
// sequence odd while it writes; a reader retries until the sequence is even
// and unchanged around its copy), over atomic words, so that there is no
// data race and no lock.
#pragma once

#include "app/fixed_line.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace pycnode::running {

enum class Kind : std::uint8_t { None, Call, Asgi, Wsgi, BuildScope, EventLoop };

// Text kept by copy, never by pointer, so it stays readable whatever
// happens to the request it came from. Longer text is cut.
template <std::size_t N>
struct FixedText {
    std::uint8_t size = 0;
    bool cut = false;
    char bytes[N] = {};

    void set(std::string_view text) {
        size = 0;
        cut = false;
        append(text);
    }
    void append(std::string_view text) {
        std::size_t room = N - size;  // the owner's: size <= N
        std::size_t n = text.size() < room ? text.size() : room;
        cut = cut || n < text.size();
        if (n == 0) return;  // an empty view may have no data pointer: memcpy must not see it
        std::memcpy(bytes + size, text.data(), n);
        size = static_cast<std::uint8_t>(size + n);
    }
    // Clamped: a reader's copy is checked, not trusted.
    std::string_view view() const { return {bytes, size < N ? size : N}; }
};

// One request, as a crash report names it.
struct alignas(8) Label {
    Kind kind = Kind::None;
    FixedText<62> target;  // "module.function" (call), "module:callable" (asgi, wsgi)
    FixedText<94> detail;  // "GET /path" (asgi, wsgi)
    FixedText<62> node;    // the caller's node
};
static_assert(std::is_trivially_copyable_v<Label> && sizeof(Label) % 8 == 0);

inline constexpr std::size_t max_threads = 1024;

// The calling thread's side. Claims a slot for it, named `thread` in
// reports (cut to 15 bytes, as Linux cuts thread names); false when the
// table is full, and the thread then runs unreported. Once per thread.
bool claim_slot(std::string_view thread);
// The thread ends: its slot reports nothing from now on.
void release_slot();
// The calling thread's label, to fill in and then publish(); null when it
// has no slot.
Label* own_label();
// What readers see becomes own_label().
void publish();
// How many requests wait on the calling thread's event loop (an event
// worker's; they are lost too if the process dies).
void set_waiting(std::size_t count);
// Adds the HTTP method and path (`path` then `more_path`: WSGI's
// SCRIPT_NAME and PATH_INFO) to the published label of the request the
// thread runs; readers see it at once.
void add_http(std::string_view method, std::string_view path, std::string_view more_path = {});
// Nothing is running (kind None), for readers too.
void clear();
// One step of a waiting request's task: `label` (what own_label() was when
// the request began to wait) is the thread's until leave(), which puts the
// thread's previous label back.
void enter(const Label& label);
void leave();

// Readers, from any thread; async-signal-safe.
std::size_t slots_claimed();
// The calling thread's slot, or -1.
long own_slot_index();
struct SlotView {
    char thread[16];        // NUL-terminated
    Label label;
    std::uint32_t waiting;  // requests waiting on the thread's event loop
};
// What slot `index` shows. False when the slot is free, or when its owner
// kept rewriting it during the read.
bool read_slot(std::size_t index, SlotView& out);
// "asgi GET /crash (app_module:app) from node a@b", appended to `line`.
void describe(const Label& label, FixedLine& line);

}  // namespace pycnode::running
