// The bytes of one received packet, from the frame reader to the worker that
// runs its request. Storage of exactly the packet's size, allocated without
// being zero-filled (the socket read or a copy fills it), unlike
// std::string::resize, which costs a memset of the whole of a 1 MiB body.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

namespace pycnode::net {

class Packet {
public:
    Packet() = default;
    // `size` bytes of uninitialised storage, to be written before they are read.
    explicit Packet(std::size_t size) : data_(std::make_unique_for_overwrite<char[]>(size)), size_(size) {}
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
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
};

}  // namespace pycnode::net
