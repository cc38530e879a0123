#include "python/worker_context.hpp"

#include "app/running.hpp"
#include "python/code_generation.hpp"

#include "python/errors.hpp"
#include "python/event_loop.hpp"
#include "python/handles.hpp"
#include "python/waiting.hpp"

#include <atomic>
#include <stdexcept>

namespace pycnode::python {
namespace {

// Atoms arrive from peers; past this many distinct names a worker stops
// caching new ones (they still convert, just without reuse).
constexpr std::size_t atom_cache_limit = 4096;

PyRef decode_utf8(std::string_view text) {
    return PyRef::steal(PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), nullptr));
}

PyRef get_attribute(PyObject* owner, std::string_view name) {
    PyRef key = decode_utf8(name);
    return key ? PyRef::steal(PyObject_GetAttr(owner, key.get())) : PyRef();
}

PyRef import_attribute(const char* module, const char* name) {
    PyRef owner = PyRef::steal(PyImport_ImportModule(module));
    return owner ? PyRef::steal(PyObject_GetAttrString(owner.get(), name)) : PyRef();
}

}  // namespace

std::size_t next_extension_slot() {
    static std::atomic<std::size_t> next{0};
    std::size_t slot = next.fetch_add(1, std::memory_order_relaxed);
    if (slot >= WorkerContext::max_extensions) throw std::logic_error("too many kinds of WorkerExtension");
    return slot;
}

WorkerContext::WorkerContext(Runtime& runtime) : runtime_(runtime) {
    thread_state_ = PyThreadState_New(runtime.interpreter());
    if (!thread_state_) throw std::runtime_error("cannot create a Python thread state for a worker");
    Attached attached(*this);
    try {
        load_pyrunner_objects();
    } catch (...) {
        delete_thread_state();  // no destructor will run
        throw;
    }
}

WorkerContext::~WorkerContext() {
    if (!attached_) attach();
    delete_thread_state();
}

// Attached only. Cached objects must be released while attached, before the
// thread state goes; deleting the current state also detaches.
void WorkerContext::delete_thread_state() {
    held_.clear();
    // First: closing the loop shuts lifespans down (app code) and cancels
    // the requests still waiting, whose replies the servers below build.
    event_loop_.reset();
    waiting_.clear();
    deadlines_.clear();
    destroy_extensions();
    callables_.clear();
    atoms_.clear();
    atom_type_.reset();
    opaque_type_.reset();
    names_ = InternedNames{};
    PyThreadState_Clear(thread_state_);
    PyThreadState_DeleteCurrent();
    thread_state_ = nullptr;
    attached_ = false;
}

// Attached only: the servers' state drops Python references (an app's
// lifespan objects among them). Newest first.
void WorkerContext::destroy_extensions() {
    while (created_ > 0) extensions_[creation_order_[--created_]].reset();
}

void WorkerContext::release_held() {
    if (held_.empty()) return;
    Attached attached(*this);
    held_.clear();
}

void WorkerContext::attach() {
    PyEval_RestoreThread(thread_state_);
    attached_ = true;
}

void WorkerContext::detach() {
    attached_ = false;
    PyEval_SaveThread();
}

WorkerContext::Attached::Attached(WorkerContext& ctx) : ctx_(ctx), attached_here_(!ctx.attached_) {
    if (!attached_here_) return;
    ctx_.attach();
    // Objects of handles whose owner went, left by the loop thread.
    if (handles().has_pending()) handles().drop_pending();
}

WorkerContext::Attached::~Attached() {
    if (attached_here_ && ctx_.attached_) ctx_.detach();
}

void WorkerContext::load_pyrunner_objects() {
    names_.ext = PyRef::steal(PyUnicode_InternFromString("ext"));
    atom_type_ = import_attribute("pyrunner.terms", "Atom");
    opaque_type_ = import_attribute("pyrunner.terms", "Opaque");
    if (!names_.ext || !atom_type_ || !opaque_type_)
        throw std::runtime_error("worker cannot load pyrunner.terms: " + take_exception_text());
    if (!PyType_Check(atom_type_.get()) || !PyType_Check(opaque_type_.get()))
        throw std::runtime_error("pyrunner.terms.Atom and Opaque must be classes");
}

PyRef WorkerContext::make_atom(std::string_view utf8_name) {
    if (auto hit = atoms_.find(utf8_name); hit != atoms_.end()) return PyRef::borrow(hit->second.get());
    PyRef name = decode_utf8(utf8_name);
    if (!name) return {};
    PyObject* args[] = {nullptr, name.get()};
    PyRef atom = PyRef::steal(
        PyObject_Vectorcall(atom_type_.get(), args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
    if (atom && atoms_.size() < atom_cache_limit) atoms_.emplace(utf8_name, PyRef::borrow(atom.get()));
    return atom;
}

PyObject* WorkerContext::callable(std::string_view module, std::string_view function) {
    if (std::uint64_t now = code_generation().load(std::memory_order_acquire); now != cache_generation_) {
        callables_.clear();  // code was reloaded: resolve everything again
        cache_generation_ = now;
    }
    key_scratch_.assign(module);
    key_scratch_.push_back('\0');
    key_scratch_.append(function);
    if (auto hit = callables_.find(key_scratch_); hit != callables_.end()) return hit->second.get();
    std::string key = key_scratch_;  // a miss is rare: copying the key is cheap enough
    PyRef target = resolve_callable(module, function);
    if (!target) return nullptr;
    return callables_.emplace(std::move(key), std::move(target)).first->second.get();
}

// Imports the module (once per interpreter: sys.modules caches it), then
// walks the dotted attribute path.
PyRef WorkerContext::resolve_callable(std::string_view module, std::string_view function) {
    PyRef name = decode_utf8(module);
    PyRef target = name ? PyRef::steal(PyImport_Import(name.get())) : PyRef();
    if (!target) return {};
    runtime_.gil_reenabled_by(module);
    for (std::size_t start = 0; target;) {
        std::size_t dot = function.find('.', start);
        target = get_attribute(target.get(), function.substr(start, dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (target && !PyCallable_Check(target.get())) {
        PyErr_Format(PyExc_TypeError, "%.200s.%.200s is not callable (it is %.100s)", std::string(module).c_str(),
                     std::string(function).c_str(), Py_TYPE(target.get())->tp_name);
        return {};
    }
    return target;
}

EventLoop* WorkerContext::event_loop() {
    if (!event_loop_) event_loop_ = EventLoop::create();
    return event_loop_.get();
}

void WorkerContext::add_waiting(const void* key, Waiting* waiting) {
    auto deadline = waiting->deadline();
    auto by_deadline = deadline == std::chrono::steady_clock::time_point::max() ? deadlines_.end()
                                                                                : deadlines_.emplace(deadline, key);
    waiting_[key] = WaitingEntry{waiting, by_deadline};
    running::set_waiting(waiting_.size());
}

void WorkerContext::remove_waiting(const void* key) {
    auto it = waiting_.find(key);
    if (it == waiting_.end()) return;
    if (it->second.by_deadline != deadlines_.end()) deadlines_.erase(it->second.by_deadline);
    waiting_.erase(it);
    running::set_waiting(waiting_.size());
}

void WorkerContext::cancel_waiting(const void* key) {
    if (auto it = waiting_.find(key); it != waiting_.end()) it->second.waiting->cancel();
}

// Each entry leaves the deadline index before it is timed out: time_out()
// may end the request (and so remove it) before it returns.
void WorkerContext::time_out_waiting(std::chrono::steady_clock::time_point now) {
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        const void* key = deadlines_.begin()->second;
        deadlines_.erase(deadlines_.begin());
        auto it = waiting_.find(key);
        if (it == waiting_.end()) continue;
        it->second.by_deadline = deadlines_.end();
        it->second.waiting->time_out();
    }
}

}  // namespace pycnode::python
