// One connected Erlang node, after the handshake: bytes in, packets out.
//
// Lives on the loop thread and is the only writer of its socket. Outgoing
// packets are queued and written in one batch per loop turn, so 64 replies
// that finish together cost one write(2), not 64.
#pragma once

#include "net/frame_reader.hpp"

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pycnode::net {

class Loop;

class Connection final : public FrameReader::Sink {
public:
    Connection(Loop& loop, std::uint64_t id, std::string peer, std::size_t max_packet);
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Takes ownership of a connected socket and starts reading; false if libuv refuses it.
    bool open(int fd);
    // Idempotent. The loop frees the connection once libuv has closed the handle.
    void close(std::string_view why);

    // Queues a complete packet; it is written at the next flush().
    void queue(std::string packet);
    void flush();
    // Sends a tick when we have been quiet, drops the peer when it has been silent too long.
    void check_liveness(std::uint64_t now_ms, std::uint64_t tick_ms, std::uint64_t timeout_ms);

    std::uint64_t id() const { return id_; }
    const std::string& peer() const { return peer_; }
    bool closing() const { return closing_; }

private:
    struct WriteRequest;

    void on_tick() override;
    void on_packet(Packet packet) override;
    void on_oversize(std::string_view prefix, std::uint64_t size) override;

    void on_read(ssize_t nread);
    void write_remaining(std::size_t written);
    uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

    static void alloc_cb(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
    static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void write_cb(uv_write_t* req, int status);
    static void close_cb(uv_handle_t* handle);

    Loop& loop_;
    const std::uint64_t id_;
    const std::string peer_;
    uv_tcp_t tcp_{};
    FrameReader reader_;
    std::vector<std::string> out_;  // queued packets; small ones are coalesced
    std::uint64_t last_read_ms_ = 0;
    std::uint64_t last_write_ms_ = 0;
    bool opened_ = false;
    bool closing_ = false;
};

}  // namespace pycnode::net
