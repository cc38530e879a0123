#include "net/connection.hpp"

#include "app/allocator.hpp"
#include "app/log.hpp"
#include "dispatch/dispatcher.hpp"
#include "dist/control.hpp"
#include "net/loop.hpp"
#include "pool/job.hpp"

#include <unistd.h>

#include <cstring>

namespace pycnode::net {
namespace {

// A connection whose backlog reached this much gives the memory it frees
// back to the system when it closes (begin_release: dear per request, cheap
// per such connection).
constexpr std::size_t release_after_bytes = 8u << 20;

}  // namespace

struct Connection::WriteRequest {
    uv_write_t req{};
    std::vector<std::string> buffers;  // kept alive until libuv is done with them
};

Connection::Connection(Loop& loop, std::uint64_t id, std::string peer, std::size_t max_packet)
    : loop_(loop), id_(id), peer_(std::move(peer)), reader_(max_packet) {
    tcp_.data = this;
}

bool Connection::open(int fd) {
    if (int err = uv_tcp_init(loop_.uv(), &tcp_); err) {
        log::error("{}: uv_tcp_init: {}", peer_, uv_strerror(err));
        return false;
    }
    opened_ = true;
    if (int err = uv_tcp_open(&tcp_, fd); err) {
        log::error("{}: uv_tcp_open: {}", peer_, uv_strerror(err));
        ::close(fd);  // libuv did not take it
        return false;
    }
    uv_tcp_nodelay(&tcp_, 1);
    std::uint64_t id = id_;
    Loop* loop = &loop_;
    outbox_ = std::make_shared<Outbox>(fd, [loop, id] { loop->backlogs().push(std::uint64_t{id}); },
                                       loop_.options().max_output, &loop_.stats().output_queued);
    last_read_ms_ = last_write_ms_ = uv_now(loop_.uv());
    return start_reading();
}

bool Connection::start_reading() {
    if (int err = uv_read_start(stream(), alloc_cb, read_cb); err) {
        log::error("{}: uv_read_start: {}", peer_, uv_strerror(err));
        return false;
    }
    reading_ = true;
    last_read_ms_ = uv_now(loop_.uv());  // its ticks waited in the socket until now
    return true;
}

// Backpressure: the peer does not read what we send, so its next requests
// wait in its socket (and then in its own node) instead of here.
void Connection::stop_reading() {
    if (!reading_ || closing_) return;
    uv_read_stop(stream());
    reading_ = false;
    log::debug("{}: {} bytes wait for it: reading stopped", peer_, outbox_->queued_bytes());
}

void Connection::close(std::string_view why) {
    if (closing_) return;
    closing_ = true;
    log::info("connection to {} closed: {}", peer_, why);
    out_.clear();
    // Its backlog is freed here, its last write's buffers when the handle
    // closes (close_cb): into the malloc arenas of the workers that made
    // them, which would keep them.
    releasing_ = outbox_ && outbox_->peak_queued_bytes() >= release_after_bytes;
    if (releasing_) begin_release();
    if (outbox_) outbox_->close();  // no writer touches the socket from here on
    loop_.dispatcher().on_close(*this);  // its callers are gone: their requests are cancelled
    if (!opened_) {
        loop_.forget(id_);  // never became a libuv handle: nothing to wait for
        return;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), close_cb);
}

// Closing at once with bytes unread (the peer's DEMONITOR_Ps and ticks
// that crossed our last replies) would make the kernel reset the
// connection, and the peer could lose replies it had not read yet. So: FIN
// after the queued writes (uv_shutdown), then wait for the peer's.
void Connection::finish(std::string_view why) {
    if (closing_ || finishing_) return;
    if (!opened_) return close(why);
    finishing_ = true;
    finish_reason_ = why;
    out_.clear();
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, stream(), [](uv_shutdown_t*, int) {}) != 0) close(why);
}

void Connection::queue(std::string packet) {
    if (!closing_ && !finishing_) out_.push_back(std::move(packet));
}

void Connection::flush() {
    if (closing_ || out_.empty()) return;
    Outbox::Sent sent = outbox_->send(out_);
    out_.clear();
    after_write(sent);
}

void Connection::after_write(Outbox::Sent sent) {
    if (sent == Outbox::Sent::Closed && outbox_->error())
        close(fmt::format("writing to it failed: {}", std::strerror(outbox_->error())));
}

// uv_write finishes in the background what the socket did not take; the
// request owns the buffers until then, and writers queue behind it.
void Connection::write_backlog() {
    if (closing_) return;
    if (int err = outbox_->error()) return close(fmt::format("writing to it failed: {}", std::strerror(err)));
    if (writing_) return;  // write_cb takes what was queued meanwhile, in order
    auto* req = new WriteRequest;
    if (!outbox_->take_backlog(req->buffers)) {
        delete req;
        return;
    }
    std::vector<uv_buf_t> bufs;
    bufs.reserve(req->buffers.size());
    for (auto& b : req->buffers) bufs.push_back(uv_buf_init(b.data(), static_cast<unsigned>(b.size())));
    req->req.data = req;
    writing_ = true;
    if (int err = uv_write(&req->req, stream(), bufs.data(), static_cast<unsigned>(bufs.size()), write_cb); err) {
        delete req;
        writing_ = false;
        close(uv_strerror(err));
    }
}

void Connection::check_liveness(std::uint64_t now_ms, std::uint64_t tick_ms, std::uint64_t timeout_ms) {
    if (closing_ || finishing_) return;
    if (outbox_->take_wrote()) last_write_ms_ = now_ms;
    if (check_output(now_ms)) return;
    if (reading_ && now_ms - last_read_ms_ > timeout_ms)
        return close(fmt::format("silent for {} ms, past the net_ticktime allowance", now_ms - last_read_ms_));
    if (now_ms - last_write_ms_ >= tick_ms) {
        std::string tick;
        dist::append_tick(tick);
        queue(std::move(tick));
        flush();
    }
}

// Over the bound, reading stops, and the socket is watched: libuv's count of
// unwritten bytes changes, or a write completes, whenever it takes some. A
// peer that reads slowly is kept; one that takes nothing for
// --output-stall-timeout is closed (true).
bool Connection::check_output(std::uint64_t now_ms) {
    if (!outbox_->over_bound()) {
        stall_watched_ = false;
        return false;
    }
    stop_reading();
    std::size_t unsent = uv_stream_get_write_queue_size(stream());
    if (!stall_watched_ || unsent != unsent_seen_) {
        stall_watched_ = true;
        stall_since_ms_ = now_ms;
        unsent_seen_ = unsent;
        return false;
    }
    std::uint64_t stalled_ms = now_ms - stall_since_ms_;
    if (stalled_ms < loop_.options().output_stall_s * 1000ull) return false;
    loop_.stats().closed_stalled.fetch_add(1, std::memory_order_relaxed);
    close(fmt::format("stalled: {} bytes wait for it (--max-output-mb {}) and its socket took none for {} ms",
                      outbox_->queued_bytes(), loop_.options().max_output >> 20, stalled_ms));
    return true;
}

// A write of the backlog completed. Under the bound again: the requests held
// meanwhile go to the workers and reading resumes.
void Connection::after_loop_write() {
    stall_watched_ = false;  // the socket took bytes
    if (closing_ || outbox_->over_bound()) return;
    std::vector<pool::Job> held;
    outbox_->take_held(held);
    if (!held.empty()) loop_.dispatcher().resume(*this, held);
    flush();  // refusals, if a queue was full
    if (reading_) return;
    log::debug("{}: under half of --max-output-mb again: reading resumed, {} held requests resubmitted", peer_,
               held.size());
    if (!start_reading()) close("could not resume reading it");
}

// Erlang nodes tick when they have sent nothing for a while; answering each
// tick keeps the peer content whatever its net_ticktime is.
void Connection::on_tick() {
    std::string tick;
    dist::append_tick(tick);
    queue(std::move(tick));
}

void Connection::on_packet(Packet packet) {
    if (!closing_ && !finishing_) loop_.dispatcher().on_packet(*this, std::move(packet));
}

void Connection::on_oversize(std::string_view prefix, std::uint64_t size) {
    if (!closing_ && !finishing_) loop_.dispatcher().on_oversize(*this, prefix, size);
}

void Connection::on_read(ssize_t nread) {
    loop_.backlogs().consumer_awake();  // an I/O callback: the loop drains backlogs again before it sleeps
    if (nread < 0 && finishing_) return close(finish_reason_);
    if (nread < 0) return close(nread == UV_EOF ? "the peer closed it" : uv_strerror(static_cast<int>(nread)));
    if (nread == 0) return;
    if (finishing_) {
        reader_.commit(static_cast<std::size_t>(nread), *this);  // keeps the reader in step; the sink ignores it
        return;
    }
    last_read_ms_ = uv_now(loop_.uv());
    reader_.commit(static_cast<std::size_t>(nread), *this);
    flush();
    if (outbox_->over_bound()) stop_reading();
}

void Connection::alloc_cb(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(handle->data);
    std::size_t size = 0;
    char* p = self->reader_.prepare(size);
    // uv_buf_t lengths are unsigned int: a larger region is simply read in parts.
    *buf = uv_buf_init(p, static_cast<unsigned>(std::min<std::size_t>(size, 1u << 30)));
}

void Connection::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    static_cast<Connection*>(stream->data)->on_read(nread);
}

void Connection::write_cb(uv_write_t* req, int status) {
    auto* request = static_cast<WriteRequest*>(req->data);
    auto* self = static_cast<Connection*>(req->handle->data);
    delete request;
    self->writing_ = false;
    if (status < 0) {
        if (status != UV_ECANCELED) self->close(uv_strerror(status));
        return;
    }
    if (self->outbox_->loop_write_done()) self->write_backlog();
    self->after_loop_write();
}

void Connection::close_cb(uv_handle_t* handle) {
    auto* self = static_cast<Connection*>(handle->data);
    bool releasing = self->releasing_;
    self->loop_.forget(self->id_);  // destroys self
    if (releasing) end_release();
}

}  // namespace pycnode::net
