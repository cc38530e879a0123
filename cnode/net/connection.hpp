// One connected Erlang node, after the handshake: bytes in, packets out.
//
// Lives on the loop thread, which reads its socket. Writes go through its
// Outbox (outbox.hpp), shared with the workers, which send their replies
// themselves; the loop's own packets (ping and control answers, ticks) are
// queued during a turn and sent in one go, and the loop writes whatever the
// socket could not take at once.
//
// While its outbox is over its bound (--max-output-mb) the connection is
// not read: its peer's requests wait in the socket, and so do its ticks, so
// silence says nothing about the peer then; a socket that takes no byte for
// --output-stall-timeout meanwhile is closed instead.
#pragma once

#include "net/frame_reader.hpp"
#include "net/outbox.hpp"

#include <uv.h>

#include <cstdint>
#include <memory>
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
    // Closes once what was written has left and the peer has closed its
    // side: FIN first, then read (and discard) until the peer's FIN. The
    // loop closes what is still open after a while (Loop::stop).
    void finish(std::string_view why);

    // Queues a complete packet; it is written at the next flush().
    void queue(std::string packet);
    void flush();
    // Writes what writers left in the outbox (the socket was full), or
    // closes the connection if a writer met a socket error.
    void write_backlog();
    // For the workers: where this connection's replies go.
    const std::shared_ptr<Outbox>& outbox() const { return outbox_; }
    // Sends a tick when we have been quiet, drops the peer when it has been
    // silent too long, or stalled (check_output).
    void check_liveness(std::uint64_t now_ms, std::uint64_t tick_ms, std::uint64_t timeout_ms);

    std::uint64_t id() const { return id_; }
    const std::string& peer() const { return peer_; }
    bool closing() const { return closing_; }
    // Everything queued for the peer has been written (or it is closing).
    bool drained() const { return closing_ || !outbox_ || (out_.empty() && !writing_ && outbox_->drained()); }

private:
    struct WriteRequest;

    void on_tick() override;
    void on_packet(Packet packet) override;
    void on_oversize(std::string_view prefix, std::uint64_t size) override;

    void on_read(ssize_t nread);
    void after_write(Outbox::Sent sent);
    bool start_reading();
    void stop_reading();
    bool check_output(std::uint64_t now_ms);
    void after_loop_write();
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
    std::shared_ptr<Outbox> outbox_;
    std::vector<std::string> out_;  // the loop's own packets of this turn
    std::uint64_t last_read_ms_ = 0;
    std::uint64_t last_write_ms_ = 0;
    std::uint64_t stall_since_ms_ = 0;  // while watched: when the socket last took bytes
    std::size_t unsent_seen_ = 0;       // libuv's unwritten bytes then
    bool opened_ = false;
    bool reading_ = false;
    bool stall_watched_ = false;  // over the bound: is the socket taking anything?
    bool writing_ = false;        // a uv_write of the backlog is in flight
    bool closing_ = false;
    bool finishing_ = false;       // finish(): our FIN is sent or queued; what arrives is discarded
    std::string finish_reason_;
    uv_shutdown_t shutdown_req_{};
    bool releasing_ = false;      // closing: its memory goes back to the system (begin_release)
};

}  // namespace pycnode::net
