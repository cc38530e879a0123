// Framing of the distribution byte stream. The reader is a small state
// machine (header -> body or skip -> header) fed by whatever split of the
// stream the socket delivers: a read may end inside a length, hold many
// packets, or finish one packet and start the next.
#include "net/frame_reader.hpp"

#include <algorithm>
#include <cstring>

namespace pycnode::net {

char* FrameReader::prepare(std::size_t& size) {
    // A large packet whose header has been seen is read straight into its
    // own storage, at most up to its end, so a direct read never holds bytes
    // of the next packet.
    direct_ = in_body_ && !skipping_ && body_size_ >= direct_threshold;
    if (direct_) {
        size = static_cast<std::size_t>(body_size_ - body_have_);
        return body_.data() + body_have_;
    }
    size = scratch_.size();
    return scratch_.data();
}

void FrameReader::commit(std::size_t n, Sink& sink) {
    if (!direct_) {
        consume(scratch_.data(), n, sink);
        return;
    }
    direct_ = false;
    body_have_ += n;
    if (body_have_ == body_size_) finish_packet(sink);
}

void FrameReader::consume(const char* data, std::size_t n, Sink& sink) {
    while (n > 0) {
        std::size_t used = 0;
        if (!in_body_) used = take_header(data, n, sink);
        else if (skipping_) used = take_skipped(data, n, sink);
        else used = take_body(data, n, sink);
        data += used;
        n -= used;
    }
}

std::size_t FrameReader::take_header(const char* data, std::size_t n, Sink& sink) {
    std::size_t used = std::min(sizeof header_ - header_have_, n);
    std::memcpy(header_ + header_have_, data, used);
    header_have_ += used;
    if (header_have_ == sizeof header_) start_packet(sink);
    return used;
}

void FrameReader::start_packet(Sink& sink) {
    header_have_ = 0;
    std::uint32_t size = (std::uint32_t{header_[0]} << 24) | (std::uint32_t{header_[1]} << 16) |
                         (std::uint32_t{header_[2]} << 8) | header_[3];
    if (size == 0) {
        sink.on_tick();
        return;
    }
    in_body_ = true;
    body_size_ = size;
    body_have_ = 0;
    skipping_ = size > max_packet_;
    if (skipping_) {
        prefix_.clear();
        return;
    }
    // Storage of exactly the packet's size, allocated once and not filled:
    // a direct packet needs all of it as a read target now.
    body_ = Packet(size);
}

std::size_t FrameReader::take_body(const char* data, std::size_t n, Sink& sink) {
    auto used = static_cast<std::size_t>(std::min<std::uint64_t>(body_size_ - body_have_, n));
    std::memcpy(body_.data() + body_have_, data, used);
    body_have_ += used;
    if (body_have_ == body_size_) finish_packet(sink);
    return used;
}

// An oversize packet streams through scratch and is dropped, apart from its
// first prefix_keep bytes, which are enough to tell its sender why.
std::size_t FrameReader::take_skipped(const char* data, std::size_t n, Sink& sink) {
    auto used = static_cast<std::size_t>(std::min<std::uint64_t>(body_size_ - body_have_, n));
    std::size_t keep = std::min(prefix_keep - prefix_.size(), used);
    prefix_.append(data, keep);
    body_have_ += used;
    if (body_have_ == body_size_) {
        in_body_ = false;
        skipping_ = false;
        sink.on_oversize(prefix_, body_size_);
        prefix_.clear();
    }
    return used;
}

void FrameReader::finish_packet(Sink& sink) {
    in_body_ = false;
    sink.on_packet(std::move(body_));  // leaves body_ empty
}

}  // namespace pycnode::net
