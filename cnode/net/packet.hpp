// The bytes of one received packet, from the frame reader to the worker that
// runs its request. Storage of at least the packet's size, allocated without
// being zero-filled (the socket read or a copy fills it), unlike
// std::string::resize, which costs a memset of the whole of a 1 MiB body.
// Packets of large_blocks::min_size bytes or more live in blocks kept for
// reuse (net/large_blocks.hpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "net/large_blocks.hpp"

namespace pycnode::net {

namespace detail {
// Frees a packet's storage where it came from, told by the size it was
// allocated with.
struct FreePacket {
    std::size_t size;
    FreePacket() noexcept : size(0) {}
    explicit FreePacket(std::size_t n) noexcept : size(n) {}
    void operator()(char* p) const {
        if (size >= large_blocks::min_size) large_blocks::give(p, size);
        else delete[] p;
    }
};
}  // namespace detail

class Packet {
public:
    Packet() = default;
    // `size` bytes of uninitialised storage, to be written before they are read.
    explicit Packet(std::size_t size)
        : data_(size >= large_blocks::min_size ? large_blocks::take(size) : new char[size],
                detail::FreePacket(size)),
          size_(size) {}
    Packet(Packet&& other) noexcept : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
    Packet& operator=(Packet&& other) noexcept {
        data_ = std::move(other.data_);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }

    char* data() { return data_.get(); }
    std::size_t size() const { return size_; }
    operator std::string_view() const { return {data_.get(), size_}; }

private:
    std::unique_ptr<char[], detail::FreePacket> data_;
    std::size_t size_ = 0;
};

}  // namespace pycnode::net
