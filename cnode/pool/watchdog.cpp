#include "pool/watchdog.hpp"

#include "app/log.hpp"
#include "net/large_blocks.hpp"
#include "pool/deadline.hpp"
#include "pool/job.hpp"
#include "term/term_reader.hpp"

#include <pthread.h>

#include <string>

namespace pycnode::pool {
namespace {

const char* kind_name(WorkerKind kind) { return kind == WorkerKind::Event ? "event worker" : "blocking thread"; }

long long ms_since(Clock::time_point since, Clock::time_point now) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
}

// "{call, <<"m">>, <<"f">>, ...}" as "call m.f", from the request's head
// only: the log says which request without decoding its arguments.
std::string describe(const Job& job) {
    term::TermReader reader(job.request.in(job.packet));
    std::size_t arity = 0;
    std::string_view kind, module, function;
    if (reader.read_tuple_header(arity) != term::DecodeError::Ok || reader.read_atom(kind) != term::DecodeError::Ok)
        return "a request";
    std::string text = "the request " + std::string(kind);
    if (reader.read_binary(module) == term::DecodeError::Ok && reader.read_binary(function) == term::DecodeError::Ok)
        text += " " + std::string(module) + "." + std::string(function);
    return text;
}

std::string thread_name() {
    char name[32] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    return name;
}

}  // namespace

Watchdog::Watchdog(Outlet& outlet, unsigned max_stuck, Hooks hooks)
    : outlet_(outlet), max_stuck_(max_stuck), hooks_(std::move(hooks)) {
    thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() { stop(); }

void Watchdog::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Watchdog::run() {
    pthread_setname_np(pthread_self(), "pywatchdog");
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, tick, [this] { return stopping_; })) {
        lock.unlock();
        Clock::time_point now = Clock::now();
        for (const Watched& watched : hooks_.survey()) check(watched, now);
        net::large_blocks::release_if_idle(now);
        lock.lock();
    }
}

void Watchdog::check(const Watched& watched, Clock::time_point now) {
    BusySlot& slot = *watched.slot;
    if (watched.parked && slot.stuck()) outlet_.expire_parked(*watched.parked, now);
    if (!slot.overdue(now)) return;
    bool replaced = false, answered = false;
    std::string what;
    Clock::time_point since;
    unsigned limit = replacing_.load(std::memory_order_relaxed) ? max_stuck_ : 0;
    bool marked = slot.mark_stuck(now, limit, replaced, [&](const Job* job, Clock::time_point began) {
        since = began;
        what = job ? describe(*job) : "a turn of its event loop";
        answered = job && outlet_.time_out_stuck(*job);  // read while the job cannot go away
    });
    if (!marked) return;
    log::error("{} {} is stuck: {} has run for {} ms, past its deadline; {}{}", kind_name(watched.kind),
               watched.index, what, ms_since(since, now), answered ? "its caller got {error, timeout}; " : "",
               replaced ? "a fresh thread replaces it" : "not replaced (--max-stuck): one thread fewer serves");
    if (watched.parked) outlet_.expire_parked(*watched.parked, now);
    if (replaced) hooks_.replace(watched.kind);
}

void note_return(BusySlot::Ended ended, std::string_view who, Clock::time_point since) {
    if (ended == BusySlot::Ended::Normally) return;
    log::warning("{} ({}) returned from a step stuck past its deadline, after {} ms; {}", who, thread_name(),
                 ms_since(since, Clock::now()),
                 ended == BusySlot::Ended::Retired ? "it exits: a fresh thread took its place" : "it takes work again");
}

}  // namespace pycnode::pool
