// Splits the byte stream of a connected distribution channel into packets:
// a 4-byte big-endian length, then that many bytes; length 0 is a tick.
//
// Pure: it knows nothing of sockets. The owner asks prepare() for room to read
// into, reads, then calls commit(). Small packets are gathered through a
// scratch buffer; a packet of 64 KiB or more is read straight into its own
// storage, so a 10 MiB body is never copied (nor zero-filled) on the loop thread.
// A packet longer than the limit is skipped as it streams by; only its first
// bytes are kept, so the owner can still tell the caller why it was refused.
#pragma once

#include "net/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pycnode::net {

class FrameReader {
public:
    class Sink {
    public:
        virtual ~Sink() = default;
        virtual void on_tick() = 0;
        // `packet` holds the payload (without the length), ownership passes.
        virtual void on_packet(Packet packet) = 0;
        // A packet over the limit was skipped; `prefix` is at most prefix_keep bytes of its start.
        virtual void on_oversize(std::string_view prefix, std::uint64_t size) = 0;
    };

    static constexpr std::size_t scratch_size = 64 * 1024;
    static constexpr std::size_t direct_threshold = 64 * 1024;
    static constexpr std::size_t prefix_keep = 4096;

    explicit FrameReader(std::size_t max_packet) : max_packet_(max_packet) {}

    // Where the next read should go: a region of at least 1 byte. Each
    // prepare() is followed by one commit() before the next prepare().
    char* prepare(std::size_t& size);
    // `n` bytes were read into the region prepare() returned; emits every
    // complete event, in stream order. The sink must not call back into the
    // reader. An oversize packet is reported once all of it has streamed by,
    // so the framing stays in step and the connection can go on.
    void commit(std::size_t n, Sink& sink);

    std::size_t max_packet() const { return max_packet_; }

private:
    void consume(const char* data, std::size_t n, Sink& sink);
    std::size_t take_header(const char* data, std::size_t n, Sink& sink);
    std::size_t take_body(const char* data, std::size_t n, Sink& sink);
    std::size_t take_skipped(const char* data, std::size_t n, Sink& sink);
    void start_packet(Sink& sink);
    void finish_packet(Sink& sink);

    std::size_t max_packet_;
    std::string scratch_ = std::string(scratch_size, '\0');
    bool direct_ = false;          // the last prepare() pointed into body_
    unsigned char header_[4]{};
    std::size_t header_have_ = 0;
    std::uint64_t body_size_ = 0;  // size of the packet being read
    std::uint64_t body_have_ = 0;
    bool in_body_ = false;
    bool skipping_ = false;        // over the limit: bytes are dropped, prefix_ kept
    Packet body_;                  // exactly body_size_ bytes, the first body_have_ of them read
    std::string prefix_;
};

}  // namespace pycnode::net
