// The handler runs in a process that is already broken: it calls only
// async-signal-safe functions (signal-safety(7): write, clock_gettime,
// sigaction, raise, nanosleep, memcpy, strlen; and prctl, a plain system
// call), reads only atomics and fixed storage, and allocates nothing.
#include "app/fatal_signals.hpp"

#include "app/fixed_line.hpp"
#include "app/log.hpp"
#include "app/running.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pycnode::fatal_signals {
namespace {

constexpr int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

std::atomic<const std::atomic<std::uint64_t>*> in_flight_counter{nullptr};
std::atomic<bool> reporting{false};

// Enough for our handler and faulthandler's dump of every thread.
std::size_t alt_stack_size() { return std::max<std::size_t>(64 * 1024, SIGSTKSZ); }

const char* signal_name(int signo) {
    switch (signo) {
        case SIGSEGV: return "SIGSEGV";
        case SIGBUS: return "SIGBUS";
        case SIGFPE: return "SIGFPE";
        case SIGILL: return "SIGILL";
        case SIGABRT: return "SIGABRT";
    }
    return "?";
}

// The start of a line of app/log.cpp's format, level error.
FixedLine& start_line(FixedLine& line) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    line.clear();
    return line.add_timestamp(now).add(" pycnode error   ");
}

void end_line(FixedLine& line) {
    line.add('\n').write_to(STDERR_FILENO);
}

void add_waiting(FixedLine& line, std::uint32_t waiting) {
    if (waiting == 0) return;
    line.add("; requests in flight on its event loop: ").add_number(waiting);
}

void report_crashing_thread(int signo, FixedLine& line) {
    start_line(line).add("fatal signal ").add_number(static_cast<std::uint64_t>(signo));
    line.add(" (").add(signal_name(signo)).add(") in thread ");
    running::SlotView slot{};
    long own = running::own_slot_index();
    if (own >= 0 && running::read_slot(static_cast<std::size_t>(own), slot)) {
        line.add(slot.thread);
        if (slot.label.kind != running::Kind::None) running::describe(slot.label, line.add(" while running "));
        add_waiting(line, slot.waiting);
    } else {
        // No slot: the loop, the acceptor, or a thread the application started.
        prctl(PR_GET_NAME, slot.thread);
        slot.thread[sizeof slot.thread - 1] = '\0';
        line.add(slot.thread);
    }
    end_line(line);
}

// One line per other thread that was running a request or had some
// waiting on its event loop.
void report_other_threads(FixedLine& line) {
    long own = running::own_slot_index();
    for (std::size_t i = 0; i < running::slots_claimed(); ++i) {
        running::SlotView slot;
        if (static_cast<long>(i) == own || !running::read_slot(i, slot)) continue;
        bool busy = slot.label.kind != running::Kind::None;
        if (!busy && slot.waiting == 0) continue;
        start_line(line).add("thread ").add(slot.thread);
        if (busy) running::describe(slot.label, line.add(" was running "));
        else line.add(" was idle");
        add_waiting(line, slot.waiting);
        end_line(line);
    }
}

void report_ending(int signo, FixedLine& line) {
    start_line(line).add("pycnode ends with signal ").add_number(static_cast<std::uint64_t>(signo));
    if (const auto* counter = in_flight_counter.load(std::memory_order_acquire)) {
        line.add("; requests in flight: ").add_number(counter->load(std::memory_order_relaxed));
        line.add(" (their callers see the node go down)");
    }
    end_line(line);
}

void on_fatal_signal(int signo, siginfo_t*, void*) {
    int saved_errno = errno;
    // Two threads crashing at once: the first reports and ends the process;
    // the second waits a little for it, then ends it anyway.
    if (reporting.exchange(true)) {
        timespec pause{1, 0};
        nanosleep(&pause, nullptr);
    } else {
        FixedLine line;
        report_crashing_thread(signo, line);
        report_other_threads(line);
        report_ending(signo, line);
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(signo, &dfl, nullptr);
    errno = saved_errno;
    raise(signo);  // SA_NODEFER: delivered now, with the default action
}

void give_alt_stack(char* stack, std::size_t size) {
    stack_t alt{};
    alt.ss_sp = stack;
    alt.ss_size = size;
    if (sigaltstack(&alt, nullptr) != 0)
        log::warning("no alternate signal stack for this thread ({}): a stack overflow on it goes unreported",
                     std::strerror(errno));
}

}  // namespace

// How our handler and CPython's faulthandler chain. We install first;
// faulthandler, enabled while the interpreter starts, installs its own and
// keeps ours as the "previous" one. On a fatal signal faulthandler's runs:
// it writes "Fatal Python error: Segmentation fault" and the Python
// traceback of every thread, puts our handler back and raise()s the signal
// again (Modules/faulthandler.c, faulthandler_fatal_error). Its handler is
// installed with SA_NODEFER, so the signal reaches ours at once: ours
// writes pycnode's lines, restores the default action and raises once more,
// which ends the process by the signal (exit status 128 + signal from a
// shell; a core dump where enabled). Both use the thread's alternate stack
// (SA_ONSTACK). Installed the other way round, ours would end the process
// before faulthandler could write anything.
void install() {
    static char main_stack[64 * 1024];
    give_alt_stack(main_stack, sizeof main_stack);
    struct sigaction action {};
    action.sa_sigaction = &on_fatal_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND;
    for (int signo : fatal)
        if (sigaction(signo, &action, nullptr) != 0)
            log::warning("cannot handle signal {}: {}", signo, std::strerror(errno));
}

InFlightReported::InFlightReported(const std::atomic<std::uint64_t>& in_flight) {
    in_flight_counter.store(&in_flight, std::memory_order_release);
}

InFlightReported::~InFlightReported() { in_flight_counter.store(nullptr, std::memory_order_release); }

WatchedThread::WatchedThread(std::string_view name) {
    running::claim_slot(name);
    stack_ = new char[alt_stack_size()];
    give_alt_stack(stack_, alt_stack_size());
}

WatchedThread::~WatchedThread() {
    running::release_slot();
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    delete[] stack_;
}

}  // namespace pycnode::fatal_signals
