#include "net/large_blocks.hpp"

#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace pycnode::net::large_blocks {
namespace {

struct Kept {
    std::mutex mutex;
    std::vector<std::pair<std::size_t, char*>> blocks;  // (capacity, block), under mutex
    std::size_t bytes = 0;                              // under mutex
    std::chrono::steady_clock::time_point last_take{};  // under mutex
};

Kept& kept() {
    static Kept* k = new Kept;  // never destroyed: packets may be freed during exit
    return *k;
}

char* allocate(std::size_t capacity) { return static_cast<char*>(::operator new(capacity)); }
void deallocate(char* block) { ::operator delete(block); }

}  // namespace

std::size_t capacity_for(std::size_t size) { return (size + granule - 1) / granule * granule; }

char* take(std::size_t size) {
    std::size_t capacity = capacity_for(size);
    Kept& k = kept();
    {
        std::lock_guard lock(k.mutex);
        k.last_take = std::chrono::steady_clock::now();
        // The most recently given first: its pages are the likeliest in cache.
        for (auto it = k.blocks.rbegin(); it != k.blocks.rend(); ++it) {
            if (it->first != capacity) continue;
            char* block = it->second;
            k.blocks.erase(std::next(it).base());
            k.bytes -= capacity;
            return block;
        }
    }
    return allocate(capacity);
}

void give(char* block, std::size_t size) {
    std::size_t capacity = capacity_for(size);
    Kept& k = kept();
    {
        std::lock_guard lock(k.mutex);
        if (k.bytes + capacity <= max_kept_bytes) {
            k.blocks.emplace_back(capacity, block);
            k.bytes += capacity;
            return;
        }
    }
    deallocate(block);
}

void release_all() {
    std::vector<std::pair<std::size_t, char*>> blocks;
    Kept& k = kept();
    {
        std::lock_guard lock(k.mutex);
        blocks.swap(k.blocks);
        k.bytes = 0;
    }
    for (auto& [capacity, block] : blocks) deallocate(block);
}

void release_if_idle(std::chrono::steady_clock::time_point now) {
    Kept& k = kept();
    {
        std::lock_guard lock(k.mutex);
        if (k.bytes == 0 || now - k.last_take < idle_after) return;
    }
    release_all();
}

std::size_t kept_bytes() {
    Kept& k = kept();
    std::lock_guard lock(k.mutex);
    return k.bytes;
}

}  // namespace pycnode::net::large_blocks
