// Outbox: the writing side of one connection, shared by many threads, over a
// real socketpair. Direct sends, the backlog a full socket leaves for the
// loop thread (simulated here: it reacts to wake_loop with take_backlog, a
// blocking write of what it took, loop_write_done), close, and a socket
// error; then writers, the loop and a reader hammering one socket at once
// (also built with ThreadSanitizer, in shared_structures_tsan). The bound:
// bytes waiting are counted, jobs are held over the bound and given back
// under half of it. No timing is asserted: deadlines only bound a failure.
#include "net/outbox.hpp"

#include "pool/job.hpp"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using pycnode::net::Outbox;
using pycnode::pool::Job;
using Sent = Outbox::Sent;

namespace {

constexpr auto failure_deadline = std::chrono::seconds(60);

// A connected AF_UNIX stream pair, blocking fds (Outbox uses MSG_DONTWAIT
// per call): `w` is the writing end the Outbox owns, `r` the peer.
struct SocketPair {
    int w = -1, r = -1;
    SocketPair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        w = fds[0];
        r = fds[1];
    }
    ~SocketPair() {
        close_w();
        close_r();
    }
    SocketPair(const SocketPair&) = delete;
    SocketPair& operator=(const SocketPair&) = delete;

    void close_w() {
        if (w >= 0) ::close(w);
        w = -1;
    }
    void close_r() {
        if (r >= 0) ::close(r);
        r = -1;
    }
    // The smallest buffers the kernel allows, so the socket fills quickly.
    void shrink() {
        int size = 1;  // rounded up to the kernel's minimum
        REQUIRE(::setsockopt(w, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
        REQUIRE(::setsockopt(r, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
        REQUIRE(::setsockopt(r, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
        REQUIRE(::setsockopt(w, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == 0);
    }
};

// Whether `fd` has something to read right now (no waiting).
bool readable_now(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

// Reads exactly `n` bytes already sent (blocking); fewer on EOF or error.
std::string read_exactly(int fd, std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        ssize_t k = ::read(fd, out.data() + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += static_cast<std::size_t>(k);
    }
    out.resize(got);
    return out;
}

// Records failures seen on helper threads; checked on the test's thread.
struct Failures {
    std::mutex mutex;
    std::vector<std::string> list;
    std::atomic<bool> any{false};
    void add(std::string what) {
        std::lock_guard lock(mutex);
        list.push_back(std::move(what));
        any.store(true, std::memory_order_relaxed);
    }
    void check() {
        std::lock_guard lock(mutex);
        for (auto& f : list) FAIL_CHECK(f);
        CHECK(list.empty());
    }
};

// Writes every byte of `packets` to the blocking `fd`, in order, handling
// partial writes (what uv_write does for the production loop). False on error.
bool write_all(int fd, const std::vector<std::string>& packets) {
    std::size_t index = 0, offset = 0;
    while (index < packets.size()) {
        if (offset == packets[index].size()) {
            ++index;
            offset = 0;
            continue;
        }
        iovec iov[64];
        int count = 0;
        for (std::size_t i = index; i < packets.size() && count < 64; ++i) {
            std::size_t skip = i == index ? offset : 0;
            if (packets[i].size() == skip) continue;
            iov[count].iov_base = const_cast<char*>(packets[i].data() + skip);
            iov[count].iov_len = packets[i].size() - skip;
            ++count;
        }
        if (count == 0) break;
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = static_cast<std::size_t>(count);
        ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);  // blocking
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        auto left = static_cast<std::size_t>(n);
        while (left > 0) {
            std::size_t rest = packets[index].size() - offset;
            if (left < rest) {
                offset += left;
                left = 0;
            } else {
                left -= rest;
                ++index;
                offset = 0;
            }
        }
    }
    return true;
}

// The loop thread of one connection, simulated: wake() is the Outbox's
// wake_loop (any thread); the thread, once started, reacts to every wake-up
// with take_backlog, a blocking write of what it took, loop_write_done, and
// again while that says more was queued.
class SimLoop {
public:
    SimLoop(int fd, Failures& failures) : fd_(fd), failures_(failures) {}
    ~SimLoop() { stop(); }

    void wake() {
        {
            std::lock_guard lock(mutex_);
            ++wakes_;
        }
        cv_.notify_one();
    }
    std::uint64_t wakes() {
        std::lock_guard lock(mutex_);
        return wakes_;
    }
    std::uint64_t takes() const { return takes_.load(std::memory_order_relaxed); }
    // The jobs take_held gave back; read after stop().
    std::vector<Job>& released() { return released_; }

    void start(Outbox& outbox) {
        outbox_ = &outbox;
        thread_ = std::thread([this] { run(); });
    }
    // Handles the wake-ups already made, then ends.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        cv_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

private:
    void run() {
        std::uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return stop_ || wakes_ != seen; });
                if (wakes_ == seen) return;  // stopping, nothing new
                seen = wakes_;
            }
            drain();
        }
    }

    void drain() {
        std::vector<std::string> out;
        if (!outbox_->take_backlog(out)) return;  // a wake-up whose backlog was already taken
        for (;;) {
            takes_.fetch_add(1, std::memory_order_relaxed);
            if (out.empty()) failures_.add("take_backlog returned true with no packets");
            if (!write_all(fd_, out)) {
                failures_.add(std::string("the loop's write failed: ") + std::strerror(errno));
                outbox_->close();  // what Connection does: the connection is gone
                return;
            }
            out.clear();
            bool more = outbox_->loop_write_done();
            outbox_->take_held(released_);  // what Connection does after each write
            if (!more) return;
            if (!outbox_->take_backlog(out)) {
                failures_.add("loop_write_done said more was queued, take_backlog found nothing");
                return;
            }
        }
    }

    const int fd_;
    Failures& failures_;
    Outbox* outbox_ = nullptr;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::uint64_t wakes_ = 0;  // under mutex_
    bool stop_ = false;        // under mutex_
    std::atomic<std::uint64_t> takes_{0};
    std::vector<Job> released_;  // the loop thread's until stop()
    std::thread thread_;
};

// A packet whose bytes say which one it is.
std::string patterned(std::size_t index, std::size_t size) {
    std::string p(size, '\0');
    for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<char>((index * 131 + i * 7 + (i >> 8)) & 0xff);
    return p;
}

}  // namespace

TEST_CASE("Outbox sends packets whole and in order, and nothing after close") {
    SocketPair sp;
    int wakes = 0;
    Outbox outbox(sp.w, [&] { ++wakes; });

    std::vector<std::string> none;
    CHECK(outbox.send(none) == Sent::Now);
    CHECK_FALSE(outbox.take_wrote());

    std::vector<std::string> batch{"first", "", "second packet", std::string(1000, 'x')};
    std::string expected = "first" + std::string("second packet") + std::string(1000, 'x');
    CHECK(outbox.send(batch) == Sent::Now);
    CHECK(outbox.send(std::string("third")) == Sent::Now);
    expected += "third";
    std::vector<std::string> two{"fourth", "fifth"};
    CHECK(outbox.send(two) == Sent::Now);
    expected += "fourthfifth";

    CHECK(outbox.take_wrote());
    CHECK_FALSE(outbox.take_wrote());
    CHECK(wakes == 0);
    CHECK(outbox.error() == 0);

    // The sends returned after writing: every byte is already readable.
    CHECK(read_exactly(sp.r, expected.size()) == expected);
    CHECK_FALSE(readable_now(sp.r));

    std::vector<std::string> nothing;
    CHECK_FALSE(outbox.take_backlog(nothing));
    CHECK(nothing.empty());

    outbox.close();
    CHECK(outbox.send(std::string("after close")) == Sent::Closed);
    std::vector<std::string> more{"a", "b"};
    CHECK(outbox.send(more) == Sent::Closed);
    CHECK_FALSE(outbox.take_wrote());
    CHECK_FALSE(outbox.take_backlog(nothing));
    CHECK(outbox.error() == 0);
    CHECK(wakes == 0);

    // Nothing more arrives: closing the writing end leaves only the EOF.
    CHECK_FALSE(readable_now(sp.r));
    sp.close_w();
    char c;
    CHECK(::read(sp.r, &c, 1) == 0);
}

TEST_CASE("Outbox queues what a full socket does not take, and the loop writes it in order") {
    SocketPair sp;
    sp.shrink();
    Failures failures;
    SimLoop loop(sp.w, failures);
    Outbox outbox(sp.w, [&] { loop.wake(); });

    std::vector<std::string> packets;
    std::string expected;
    for (std::size_t i = 0; i < 300; ++i) {
        packets.push_back(patterned(i, 1000 + (i * 577) % 2500));
        expected += packets.back();
    }

    // Nobody reads: the socket fills, and the packet it does not take whole
    // is queued for the loop, which is asked to write it.
    std::size_t next = 0;
    Sent first_queued = Sent::Now;
    while (next < packets.size()) {
        Sent s = outbox.send(packets[next++]);
        if (s != Sent::Now) {
            first_queued = s;
            break;
        }
    }
    REQUIRE(first_queued == Sent::Queued);
    REQUIRE(next < packets.size() - 20);
    CHECK(loop.wakes() >= 1);
    CHECK(outbox.error() == 0);

    // No overtaking: while bytes wait, later packets queue behind them,
    // whether sent alone or in a batch.
    for (int i = 0; i < 5; ++i) CHECK(outbox.send(packets[next++]) == Sent::Queued);
    std::vector<std::string> batch{packets[next], packets[next + 1], packets[next + 2]};
    next += 3;
    CHECK(outbox.send(batch) == Sent::Queued);

    // Now the loop and a reader run; the rest is sent meanwhile.
    std::string received;
    std::atomic<bool> reader_done{false};
    auto deadline = std::chrono::steady_clock::now() + failure_deadline;
    std::thread reader([&] {
        char buf[8192];
        while (received.size() < expected.size()) {
            if (std::chrono::steady_clock::now() > deadline) {
                failures.add("the reader's deadline passed before every byte arrived");
                break;
            }
            pollfd p{sp.r, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            ssize_t n = ::read(sp.r, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                failures.add("the reader met EOF or an error");
                break;
            }
            received.append(buf, static_cast<std::size_t>(n));
        }
        reader_done.store(true);
    });
    loop.start(outbox);

    int closed = 0;
    while (next < packets.size()) {
        if (next % 3 == 0 && next + 2 < packets.size()) {
            std::vector<std::string> some{packets[next], packets[next + 1]};
            next += 2;
            closed += outbox.send(some) == Sent::Closed;
        } else {
            closed += outbox.send(packets[next++]) == Sent::Closed;
        }
    }
    CHECK(closed == 0);

    reader.join();
    if (failures.any.load()) ::shutdown(sp.w, SHUT_RDWR);  // unblocks a stuck loop
    loop.stop();
    failures.check();
    CHECK(loop.takes() >= 1);
    CHECK(received.size() == expected.size());
    CHECK(received == expected);
    CHECK(outbox.error() == 0);

    // The loop's write is done and the socket is empty: direct sends resume.
    CHECK(outbox.send(std::string("direct again")) == Sent::Now);
    CHECK(read_exactly(sp.r, 12) == "direct again");
    MESSAGE("wake-ups " << loop.wakes() << ", takes " << loop.takes());
}

TEST_CASE("Outbox close drops the backlog and later sends") {
    SocketPair sp;
    sp.shrink();
    int wakes = 0;
    Outbox outbox(sp.w, [&] { ++wakes; });

    std::size_t sent_bytes = 0;
    Sent s = Sent::Now;
    for (int i = 0; i < 1000 && s == Sent::Now; ++i) {
        std::string p = patterned(static_cast<std::size_t>(i), 2000);
        s = outbox.send(p);
        sent_bytes += p.size();
    }
    REQUIRE(s == Sent::Queued);
    CHECK(wakes == 1);

    outbox.close();
    std::vector<std::string> taken;
    CHECK_FALSE(outbox.take_backlog(taken));
    CHECK(taken.empty());
    CHECK_FALSE(outbox.loop_write_done());
    CHECK(outbox.send(std::string("late")) == Sent::Closed);
    CHECK(outbox.error() == 0);

    // Only bytes written before the close ever arrive: fewer than were sent.
    sp.close_w();
    std::string all;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(sp.r, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        all.append(buf, static_cast<std::size_t>(n));
    }
    CHECK(all.size() < sent_bytes);
}

TEST_CASE("Outbox reports a socket error and refuses sends after it") {
    SUBCASE("peer closed before anything was sent") {
        SocketPair sp;
        int wakes = 0;
        Outbox outbox(sp.w, [&] { ++wakes; });
        sp.close_r();

        Sent s = Sent::Now;
        int tries = 0;
        while (s == Sent::Now && tries++ < 1000) s = outbox.send(std::string("hello"));
        CHECK(s == Sent::Closed);
        CHECK(outbox.error() != 0);
        CHECK(outbox.error() == EPIPE);
        CHECK(wakes == 1);  // the loop is asked to close the connection

        // Later sends are refused without touching the socket.
        CHECK(outbox.send(std::string("again")) == Sent::Closed);
        std::vector<std::string> batch{"x", "y"};
        CHECK(outbox.send(batch) == Sent::Closed);
        CHECK(wakes == 1);
    }
    SUBCASE("peer closed with unread bytes") {
        SocketPair sp;
        int wakes = 0;
        Outbox outbox(sp.w, [&] { ++wakes; });
        CHECK(outbox.send(std::string("unread")) == Sent::Now);
        sp.close_r();

        Sent s = Sent::Now;
        int tries = 0;
        while (s == Sent::Now && tries++ < 1000) s = outbox.send(std::string("more"));
        CHECK(s == Sent::Closed);
        CHECK(outbox.error() != 0);
        CHECK(wakes == 1);
        CHECK(outbox.send(std::string("again")) == Sent::Closed);
    }
}

namespace {

// Stress packets: 4-byte big-endian length of the rest, 4-byte writer id,
// 4-byte sequence number, then a payload whose bytes depend on all three.
void put32(std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}
std::uint32_t get32(const char* p) {
    auto b = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}
char payload_byte(std::uint32_t writer, std::uint32_t seq, std::size_t i) {
    return static_cast<char>((writer * 61 + seq * 13 + i * 7 + (i >> 8)) & 0xff);
}
std::string stress_packet(std::uint32_t writer, std::uint32_t seq, std::size_t payload) {
    std::string p;
    p.reserve(12 + payload);
    put32(p, static_cast<std::uint32_t>(8 + payload));
    put32(p, writer);
    put32(p, seq);
    for (std::size_t i = 0; i < payload; ++i) p.push_back(payload_byte(writer, seq, i));
    return p;
}

}  // namespace

TEST_CASE("Outbox keeps packets of many writers whole and in order through direct sends and the backlog") {
    constexpr std::uint32_t writers = 4;
    constexpr std::uint32_t per_writer = 5000;
    constexpr std::size_t max_payload = 3000;

    SocketPair sp;
    sp.shrink();
    Failures failures;
    SimLoop loop(sp.w, failures);
    Outbox outbox(sp.w, [&] { loop.wake(); });
    loop.start(outbox);
    auto deadline = std::chrono::steady_clock::now() + failure_deadline;

    // The reader parses the stream; every packet must be whole and next in
    // its writer's sequence.
    std::vector<std::uint32_t> next_seq(writers, 0);
    std::atomic<std::uint32_t> read_of[writers] = {};  // next_seq, published for the writers' pauses
    std::uint64_t packets_read = 0;
    std::thread reader([&] {
        std::string buf;
        std::size_t pos = 0;
        char chunk[16384];
        std::uint64_t total = std::uint64_t{writers} * per_writer;
        while (packets_read < total && !failures.any.load(std::memory_order_relaxed)) {
            if (std::chrono::steady_clock::now() > deadline) {
                failures.add("the reader's deadline passed: " + std::to_string(packets_read) + " packets read");
                break;
            }
            pollfd p{sp.r, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            ssize_t n = ::read(sp.r, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                failures.add("the reader met EOF or an error");
                break;
            }
            buf.append(chunk, static_cast<std::size_t>(n));
            while (buf.size() - pos >= 4) {
                std::uint32_t len = get32(buf.data() + pos);
                if (len < 8 || len > 8 + max_payload) {
                    failures.add("bad length " + std::to_string(len) + " after " + std::to_string(packets_read) +
                                 " packets (interleaved or corrupt)");
                    return;
                }
                if (buf.size() - pos < 4 + std::size_t{len}) break;
                const char* p0 = buf.data() + pos + 4;
                std::uint32_t writer = get32(p0), seq = get32(p0 + 4);
                if (writer >= writers) {
                    failures.add("bad writer id " + std::to_string(writer));
                    return;
                }
                if (seq != next_seq[writer]) {
                    failures.add("writer " + std::to_string(writer) + ": expected packet " +
                                 std::to_string(next_seq[writer]) + ", got " + std::to_string(seq));
                    return;
                }
                for (std::size_t i = 0; i < len - 8; ++i) {
                    if (p0[8 + i] != payload_byte(writer, seq, i)) {
                        failures.add("writer " + std::to_string(writer) + " packet " + std::to_string(seq) +
                                     ": payload byte " + std::to_string(i) + " wrong (interleaved or corrupt)");
                        return;
                    }
                }
                ++next_seq[writer];
                read_of[writer].store(next_seq[writer], std::memory_order_relaxed);
                ++packets_read;
                pos += 4 + len;
            }
            if (pos > (1u << 20)) {
                buf.erase(0, pos);
                pos = 0;
            }
        }
    });

    std::atomic<std::uint64_t> now_count{0}, queued_count{0}, closed_count{0};
    std::vector<std::thread> writer_threads;
    for (std::uint32_t w = 0; w < writers; ++w) {
        writer_threads.emplace_back([&, w] {
            std::mt19937 rng(1234 + w);
            std::uniform_int_distribution<std::size_t> payload(0, max_payload);
            std::uniform_int_distribution<int> batch_size(1, 4);
            std::uniform_int_distribution<int> pause(0, 3);
            std::uniform_int_distribution<int> pause_us(1, 200);
            std::uint32_t seq = 0;
            std::vector<std::string> batch;
            while (seq < per_writer) {
                if (failures.any.load(std::memory_order_relaxed)) return;
                Sent s;
                int k = batch_size(rng);
                if (k == 1) {
                    s = outbox.send(stress_packet(w, seq++, payload(rng)));
                } else {
                    batch.clear();
                    for (int i = 0; i < k && seq < per_writer; ++i) batch.push_back(stress_packet(w, seq++, payload(rng)));
                    s = outbox.send(batch);
                }
                (s == Sent::Now ? now_count : s == Sent::Queued ? queued_count : closed_count).fetch_add(1);
                if (s == Sent::Closed) {
                    failures.add("a send returned Closed");
                    return;
                }
                // Pauses now and then let the reader catch up, so the socket
                // empties and writers switch between direct sends and the
                // backlog many times (no timing is asserted). After a queued
                // send, a writer sometimes waits until the reader has all it
                // sent: the loop must deliver the backlog for that to happen.
                if (s == Sent::Queued && pause(rng) == 0) {
                    while (read_of[w].load(std::memory_order_relaxed) < seq) {
                        if (failures.any.load(std::memory_order_relaxed)) return;
                        if (std::chrono::steady_clock::now() > deadline) {
                            failures.add("writer " + std::to_string(w) + ": its queued packets were not delivered");
                            return;
                        }
                        std::this_thread::sleep_for(std::chrono::microseconds(50));
                    }
                } else if (pause(rng) == 0) {
                    std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
                }
            }
        });
    }
    for (auto& t : writer_threads) t.join();
    reader.join();
    if (failures.any.load()) ::shutdown(sp.w, SHUT_RDWR);  // unblocks a stuck loop
    loop.stop();
    failures.check();

    CHECK(packets_read == std::uint64_t{writers} * per_writer);
    for (std::uint32_t w = 0; w < writers; ++w) CHECK(next_seq[w] == per_writer);
    CHECK(closed_count.load() == 0);
    CHECK(outbox.error() == 0);

    // Nothing lost in a backlog and nothing extra: after the last packet,
    // the stream ends.
    outbox.close();
    sp.close_w();
    if (!failures.any.load()) {
        char c;
        CHECK(::read(sp.r, &c, 1) == 0);
    }
    MESSAGE("sends: " << now_count.load() << " direct, " << queued_count.load() << " queued; loop wake-ups "
                      << loop.wakes() << ", takes " << loop.takes());
}

namespace {

// A job told apart by its request span's offset.
Job job_numbered(std::uint32_t n) {
    Job job;
    job.request.offset = n;
    return job;
}

// Sends `size`-byte packets until `done` says stop; returns the bytes sent.
template <class Done>
std::size_t send_until(Outbox& outbox, std::size_t size, Done done) {
    std::size_t bytes = 0;
    for (std::size_t i = 0; !done(); ++i) {
        REQUIRE(outbox.send(patterned(i, size)) != Sent::Closed);
        bytes += size;
    }
    return bytes;
}

}  // namespace

TEST_CASE("Outbox counts the bytes that wait, holds jobs over its bound and gives them back under half of it") {
    constexpr std::size_t bound = 64 * 1024;
    constexpr std::size_t size = 2000;
    SocketPair sp;
    sp.shrink();
    std::atomic<std::uint64_t> total{0};
    int wakes = 0;
    Outbox outbox(sp.w, [&] { ++wakes; }, bound, &total);

    // Under the bound: nothing is held, whatever waits.
    send_until(outbox, size, [&] { return outbox.queued_bytes() > 0; });
    CHECK(wakes == 1);
    Job early = job_numbered(1);
    CHECK_FALSE(outbox.hold(early));
    while (!outbox.over_bound()) {
        CHECK(outbox.queued_bytes() <= bound);
        CHECK(total.load() == outbox.queued_bytes());
        REQUIRE(outbox.send(patterned(0, size)) == Sent::Queued);
    }
    CHECK(outbox.queued_bytes() > bound);
    CHECK(outbox.queued_bytes() <= bound + size);
    CHECK(total.load() == outbox.queued_bytes());

    // Over it: a job about to start is kept, and stays while over.
    Job job = job_numbered(7);
    CHECK(outbox.hold(job));
    std::vector<Job> back;
    outbox.take_held(back);
    CHECK(back.empty());

    // The loop takes the backlog: it still waits (in the loop's write) until
    // the write is done. More than half the bound queues meanwhile.
    std::vector<std::string> taken;
    REQUIRE(outbox.take_backlog(taken));
    std::size_t first_write = outbox.queued_bytes();
    CHECK(outbox.over_bound());
    std::size_t meanwhile = send_until(outbox, size, [&] { return outbox.queued_bytes() > first_write + bound / 2; });

    std::atomic<std::size_t> read_bytes{0};
    std::thread reader([&] {
        char buf[65536];
        for (ssize_t n; (n = ::read(sp.r, buf, sizeof buf)) != 0;)
            if (n > 0) read_bytes += static_cast<std::size_t>(n);
            else if (errno != EINTR) break;
    });
    REQUIRE(write_all(sp.w, taken));
    CHECK(outbox.loop_write_done());  // more was queued
    CHECK(outbox.queued_bytes() == meanwhile);
    CHECK(total.load() == meanwhile);
    CHECK(outbox.over_bound());  // not yet under half the bound
    outbox.take_held(back);
    CHECK(back.empty());

    REQUIRE(outbox.take_backlog(taken = {}));
    REQUIRE(write_all(sp.w, taken));
    CHECK_FALSE(outbox.loop_write_done());
    CHECK(outbox.queued_bytes() == 0);
    CHECK(total.load() == 0);
    CHECK_FALSE(outbox.over_bound());
    outbox.take_held(back);
    REQUIRE(back.size() == 1);
    CHECK(back[0].request.offset == 7);
    CHECK(outbox.peak_queued_bytes() > bound);

    sp.close_w();
    reader.join();
    CHECK(read_bytes.load() > bound);
}

TEST_CASE("Outbox close forgets what waited, refuses to hold, and gives back what it held") {
    constexpr std::size_t bound = 32 * 1024;
    SocketPair sp;
    sp.shrink();
    std::atomic<std::uint64_t> total{0};
    Outbox outbox(sp.w, [] {}, bound, &total);
    send_until(outbox, 1500, [&] { return outbox.over_bound(); });
    Job a = job_numbered(1), b = job_numbered(2);
    REQUIRE(outbox.hold(a));
    REQUIRE(outbox.hold(b));
    CHECK(total.load() > bound);

    outbox.close();
    CHECK(total.load() == 0);
    CHECK(outbox.queued_bytes() == 0);
    CHECK_FALSE(outbox.over_bound());
    Job c = job_numbered(3);
    CHECK_FALSE(outbox.hold(c));
    std::vector<Job> back;
    outbox.take_held(back);
    REQUIRE(back.size() == 2);
    CHECK(back[0].request.offset == 1);
    CHECK(back[1].request.offset == 2);
}

TEST_CASE("Outbox hands every held job back exactly once while writers, holders and the loop race") {
    constexpr std::size_t bound = 16 * 1024;
    constexpr std::uint32_t writers = 3;
    constexpr std::uint32_t per_writer = 3000;

    SocketPair sp;
    sp.shrink();
    Failures failures;
    std::atomic<std::uint64_t> total{0};
    SimLoop loop(sp.w, failures);
    Outbox outbox(sp.w, [&] { loop.wake(); }, bound, &total);
    loop.start(outbox);
    auto deadline = std::chrono::steady_clock::now() + failure_deadline;

    std::atomic<std::size_t> read_bytes{0};
    std::thread reader([&] {
        std::mt19937 rng(99);
        std::uniform_int_distribution<int> pause(0, 7);
        char buf[4096];
        for (;;) {
            ssize_t n = ::read(sp.r, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            read_bytes += static_cast<std::size_t>(n);
            // A slow reader now and then, so the outbox goes over its bound and back.
            if (pause(rng) == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
    });

    // Each writer is a worker: a job it is about to start is either held,
    // or run, and then its reply is sent.
    std::vector<std::vector<std::uint32_t>> held(writers);
    std::atomic<std::size_t> sent_bytes{0};
    std::vector<std::thread> threads;
    for (std::uint32_t w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            std::mt19937 rng(7 + w);
            std::uniform_int_distribution<std::size_t> size(100, 3000);
            for (std::uint32_t i = 0; i < per_writer; ++i) {
                std::uint32_t id = w * per_writer + i;
                Job job = job_numbered(id);
                if (outbox.hold(job)) {
                    held[w].push_back(id);
                    // Other jobs are for other peers: wait for this one to read.
                    while (outbox.over_bound() && std::chrono::steady_clock::now() < deadline)
                        std::this_thread::yield();
                    continue;
                }
                std::string reply = patterned(id, size(rng));
                sent_bytes += reply.size();
                if (outbox.send(std::move(reply)) == Sent::Closed) failures.add("a send returned Closed");
            }
        });
    }
    for (auto& t : threads) t.join();
    while (outbox.queued_bytes() > 0 && !failures.any.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(outbox.queued_bytes() == 0);
    loop.stop();
    outbox.close();
    std::vector<Job> rest;
    outbox.take_held(rest);
    sp.close_w();
    reader.join();
    failures.check();

    std::vector<std::uint32_t> expected, returned;
    for (auto& ids : held) expected.insert(expected.end(), ids.begin(), ids.end());
    for (auto* jobs : {&loop.released(), &rest})
        for (auto& job : *jobs) returned.push_back(job.request.offset);
    std::sort(expected.begin(), expected.end());
    std::sort(returned.begin(), returned.end());
    CHECK(returned == expected);
    CHECK(read_bytes.load() == sent_bytes.load());
    CHECK(total.load() == 0);
    MESSAGE("held " << expected.size() << " of " << writers * per_writer << " jobs; given back by the loop "
                    << loop.released().size() << ", at close " << rest.size());
}
