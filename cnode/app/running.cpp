#include "app/running.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>

namespace pycnode::running {
namespace {

constexpr std::size_t label_words = sizeof(Label) / sizeof(std::uint64_t);
// A reader gives up on a slot its owner keeps rewriting after this many
// tries: a crash report must not wait on a busy thread.
constexpr int read_attempts = 64;

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free &&
              std::atomic<bool>::is_always_lock_free,
              "a signal handler reads slots: their atomics must not take locks");

struct Slot {
    std::atomic<bool> used{false};
    char thread[16] = {};                     // written before `used` is set, then never
    std::atomic<std::uint32_t> sequence{0};   // odd while the owner writes `words`
    std::atomic<std::uint32_t> waiting{0};
    std::atomic<std::uint64_t> words[label_words] = {};
    // The owner's own: no other thread touches these.
    Label current;
    Label saved;  // the label enter() replaced
    int depth = 0;
};

// Static storage, zero-initialised: untouched slots cost no memory.
Slot slots[max_threads];
std::atomic<std::size_t> claimed{0};
// Initial-exec TLS: reading it is a plain load from the thread's static TLS
// block (no __tls_get_addr, which may allocate), safe in a signal handler.
__attribute__((tls_model("initial-exec"))) thread_local Slot* own = nullptr;

// A byte range of a label: [from, to).
struct Range {
    std::size_t from, to;
};

// The bytes of `text` that mean something: its size, flag and used bytes.
// Readers never look past a text's size, so the rest need not be stored.
template <std::size_t N>
Range used(const Label& label, const FixedText<N>& text) {
    std::size_t from = static_cast<std::size_t>(reinterpret_cast<const char*>(&text) - reinterpret_cast<const char*>(&label));
    return {from, from + offsetof(FixedText<N>, bytes) + text.view().size()};
}

// Stores the words of the owner's label that hold `ranges`, under the seqlock.
template <std::size_t Count>
void store(Slot& slot, const Range (&ranges)[Count]) {
    const char* bytes = reinterpret_cast<const char*>(&slot.current);
    std::uint32_t seq = slot.sequence.load(std::memory_order_relaxed);
    slot.sequence.store(seq + 1, std::memory_order_relaxed);
    // Release stores (plain stores on x86-64): a reader that sees a new word
    // also sees the odd sequence stored before it, and retries. No fence,
    // which ThreadSanitizer could not follow.
    for (const Range& range : ranges) {
        for (std::size_t w = range.from / 8; w < (range.to + 7) / 8; ++w) {
            std::uint64_t word;
            std::memcpy(&word, bytes + w * 8, sizeof word);
            slot.words[w].store(word, std::memory_order_release);
        }
    }
    slot.sequence.store(seq + 2, std::memory_order_release);
}

bool load(const Slot& slot, Label& out) {
    for (int attempt = 0; attempt < read_attempts; ++attempt) {
        std::uint32_t before = slot.sequence.load(std::memory_order_acquire);
        if (before & 1u) continue;
        std::uint64_t words[label_words];
        // Acquire loads keep the second look at the sequence after them.
        for (std::size_t i = 0; i < label_words; ++i) words[i] = slot.words[i].load(std::memory_order_acquire);
        if (slot.sequence.load(std::memory_order_relaxed) != before) continue;
        std::memcpy(&out, words, sizeof out);
        return true;
    }
    return false;
}

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::Call: return "call";
        case Kind::Asgi: return "asgi";
        case Kind::Wsgi: return "wsgi";
        case Kind::BuildScope: return "build_scope";
        case Kind::None:
        case Kind::EventLoop: break;
    }
    return "request";
}

template <std::size_t N>
void add(FixedLine& line, const FixedText<N>& text) {
    line.add(text.view());
    if (text.cut) line.add("...");
}

}  // namespace

bool claim_slot(std::string_view thread) {
    if (own) return true;
    std::size_t index = claimed.fetch_add(1, std::memory_order_relaxed);
    if (index >= max_threads) return false;
    Slot& slot = slots[index];
    std::size_t n = std::min(thread.size(), sizeof slot.thread - 1);
    std::memcpy(slot.thread, thread.data(), n);
    slot.used.store(true, std::memory_order_release);
    own = &slot;
    return true;
}

void release_slot() {
    if (!own) return;
    clear();
    set_waiting(0);
    own->used.store(false, std::memory_order_release);
    own = nullptr;
}

Label* own_label() { return own ? &own->current : nullptr; }

// The kind and the target are contiguous: one range.
void publish() {
    if (!own) return;
    const Label& label = own->current;
    store(*own, {Range{0, used(label, label.target).to}, used(label, label.detail), used(label, label.node)});
}

void set_waiting(std::size_t count) {
    if (own) own->waiting.store(static_cast<std::uint32_t>(count), std::memory_order_relaxed);
}

void add_http(std::string_view method, std::string_view path, std::string_view more_path) {
    if (!own) return;
    own->current.detail.set(method);
    own->current.detail.append(" ");
    own->current.detail.append(path);
    own->current.detail.append(more_path);
    store(*own, {used(own->current, own->current.detail)});
}

void clear() {
    if (!own) return;
    // Readers skip a label of kind None whatever follows: the kind's word is enough.
    own->current.kind = Kind::None;
    store(*own, {Range{0, 1}});
}

void enter(const Label& label) {
    if (!own) return;
    if (own->depth++ == 0) own->saved = own->current;
    own->current = label;
    publish();
}

void leave() {
    if (!own || own->depth == 0) return;
    if (--own->depth > 0) return;
    own->current = own->saved;
    publish();
}

std::size_t slots_claimed() { return std::min(claimed.load(std::memory_order_acquire), max_threads); }

long own_slot_index() { return own ? static_cast<long>(own - slots) : -1; }

bool read_slot(std::size_t index, SlotView& out) {
    if (index >= max_threads) return false;
    const Slot& slot = slots[index];
    if (!slot.used.load(std::memory_order_acquire)) return false;
    std::memcpy(out.thread, slot.thread, sizeof out.thread);
    out.thread[sizeof out.thread - 1] = '\0';
    out.waiting = slot.waiting.load(std::memory_order_relaxed);
    return load(slot, out.label);
}

void describe(const Label& label, FixedLine& line) {
    switch (label.kind) {
        case Kind::None: line.add("nothing"); return;
        case Kind::EventLoop: line.add("its event loop, outside any request's own task"); return;
        default: break;
    }
    line.add(kind_name(label.kind));
    bool detail = label.detail.view().size() > 0;
    if (detail) add(line.add(' '), label.detail);
    if (label.target.view().size() > 0) {
        add(line.add(detail ? " (" : " "), label.target);
        if (detail) line.add(')');
    }
    if (label.node.view().size() > 0) add(line.add(" from node "), label.node);
}

}  // namespace pycnode::running
