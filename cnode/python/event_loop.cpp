#include "python/event_loop.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"

#include <cmath>

namespace pycnode::python {
namespace {

PyRef attribute(PyObject* owner, const char* name) { return PyRef::steal(PyObject_GetAttrString(owner, name)); }

PyRef import_attribute(const char* module, const char* name) {
    PyRef owner = PyRef::steal(PyImport_ImportModule(module));
    return owner ? attribute(owner.get(), name) : PyRef();
}

PyRef call(PyObject* fn, PyObject* a = nullptr, PyObject* b = nullptr, PyObject* c = nullptr,
           PyObject* d = nullptr) {
    PyObject* args[] = {nullptr, a, b, c, d};
    std::size_t n = d ? 4 : c ? 3 : b ? 2 : a ? 1 : 0;
    return PyRef::steal(PyObject_Vectorcall(fn, args + 1, n | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
}

void restore_exception(PyRef exc) {
    if (!exc) return;
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc.release());
#else
    PyObject* type = reinterpret_cast<PyObject*>(Py_TYPE(exc.get()));
    Py_INCREF(type);
    PyErr_Restore(type, exc.release(), nullptr);  // the traceback stays attached to the exception
#endif
}

// Keeps the exception set when it is made (the request's own) out of the
// way while cleanup code runs, and sets it again when it goes.
class PendingException {
public:
    PendingException() : exc_(take_exception()) {}
    ~PendingException() { restore_exception(std::move(exc_)); }
    PendingException(const PendingException&) = delete;
    PendingException& operator=(const PendingException&) = delete;

private:
    PyRef exc_;
};

// Cleanup must not fail silently, nor fail the request: log and go on.
void cleanup(const char* what, PyRef result) {
    if (!result) log::warning("event loop: {} failed: {}", what, take_exception_text());
}

}  // namespace

PyRef await_iterator(PyObject* awaitable) {
    if (PyCoro_CheckExact(awaitable)) return PyRef::borrow(awaitable);
    PyTypeObject* type = Py_TYPE(awaitable);
    if (!type->tp_as_async || !type->tp_as_async->am_await) {
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression", type->tp_name);
        return {};
    }
    PyRef iterator = PyRef::steal(type->tp_as_async->am_await(awaitable));
    if (iterator && !PyIter_Check(iterator.get())) {
        PyErr_Format(PyExc_TypeError, "__await__() returned non-iterator of type '%.100s'",
                     Py_TYPE(iterator.get())->tp_name);
        return {};
    }
    return iterator;
}

bool is_awaitable(PyObject* obj) {
    if (PyCoro_CheckExact(obj)) return true;
    PyTypeObject* type = Py_TYPE(obj);
    return type->tp_as_async && type->tp_as_async->am_await;
}

std::unique_ptr<EventLoop> EventLoop::create() {
    std::unique_ptr<EventLoop> loop(new EventLoop());
    if (!loop->load()) return nullptr;
    return loop;
}

bool EventLoop::load() {
    PyRef type = import_attribute("pyrunner.worker_loop", "WorkerLoop");
    // Made here, on the worker's own thread: the loop belongs to it.
    worker_loop_ = type ? PyRef::steal(PyObject_CallNoArgs(type.get())) : PyRef();
    if (!worker_loop_) return false;
    PyObject* w = worker_loop_.get();
    loop_ = attribute(w, "loop");
    task_ = attribute(w, "task");
    adopt_ = attribute(w, "adopt");
    hand_off_ = attribute(w, "hand_off");
    settle_ = attribute(w, "settle");
    reset_task_ = attribute(w, "reset_task");
    run_ready_ = attribute(w, "run_ready");
    hold_running_ = attribute(w, "hold_running");
    next_timeout_ = attribute(w, "next_timeout");
    PyRef fd = attribute(w, "selector_fd");
    fd = fd ? call(fd.get()) : PyRef();
    selector_fd_ = fd ? static_cast<int>(PyLong_AsLong(fd.get())) : -1;
    if (PyErr_Occurred()) return false;
    ready_ = loop_ ? attribute(loop_.get(), "_ready") : PyRef();
    set_running_loop_ = import_attribute("asyncio.events", "_set_running_loop");
    enter_task_ = import_attribute("asyncio.tasks", "_enter_task");
    leave_task_ = import_attribute("asyncio.tasks", "_leave_task");
    scheduled_name_ = PyRef::steal(PyUnicode_InternFromString("_scheduled"));
    cancel_requested_name_ = PyRef::steal(PyUnicode_InternFromString("_cancel_requested"));
    task_name_ = PyRef::steal(PyUnicode_InternFromString("task"));
    return task_ && adopt_ && hand_off_ && settle_ && reset_task_ && run_ready_ && hold_running_ && next_timeout_ && ready_ &&
           set_running_loop_ && enter_task_ && leave_task_ && scheduled_name_ && cancel_requested_name_ && task_name_;
}

void EventLoop::hold_running() {
    if (held_running_) return;
    PendingException pending;
    PyRef held = call(hold_running_.get());
    held_running_ = static_cast<bool>(held);
    if (!held) cleanup("holding the running loop", std::move(held));
}

EventLoop::~EventLoop() {
    if (!worker_loop_) return;
    PyRef closed = PyRef::steal(PyObject_CallMethod(worker_loop_.get(), "close", nullptr));
    if (!closed) log::warning("event loop: closing the worker's event loop failed: {}", take_exception_text());
}

EventLoop::Step EventLoop::start(PyObject* awaitable, PyRef& out, Suspended& suspended) {
    PyRef iterator = await_iterator(awaitable);
    PyRef context = iterator ? PyRef::steal(PyContext_CopyCurrent()) : PyRef();
    if (!context) return Step::Raised;
    PyRef value;
    int sent = send_directly(iterator.get(), context.get(), value);
    if (sent == PYGEN_NEXT) {
        suspended = Suspended{std::move(iterator), std::move(value), std::move(context)};
        return Step::Waits;
    }
    forget_direct_cancel();
    if (sent != PYGEN_RETURN) return Step::Raised;
    out = std::move(value);
    return Step::Returned;
}

PyRef EventLoop::adopt(Suspended& s, PyObject* on_done) {
    PyRef task = call(adopt_.get(), s.iterator.get(), s.yielded.get(), s.context.get(), on_done);
    take_fresh_task();
    s = Suspended{};
    return task;
}

PyRef EventLoop::finish_here(Suspended& s) {
    PyRef result = call(hand_off_.get(), s.iterator.get(), s.yielded.get(), s.context.get());
    take_fresh_task();
    s = Suspended{};
    PendingException pending;
    cleanup("settling the event loop", call(settle_.get()));
    return result;
}

PyRef EventLoop::run(PyObject* awaitable) {
    PyRef result;
    Suspended suspended;
    switch (start(awaitable, result, suspended)) {
        case Step::Returned: break;
        case Step::Raised: return {};
        case Step::Waits: return finish_here(suspended);
    }
    PendingException pending;
    cleanup("settling the event loop", call(settle_.get()));
    return result;
}

// The task a coroutine was driven in goes with it when it is adopted; the
// next request is driven in the worker's fresh one.
void EventLoop::take_fresh_task() {
    PendingException pending;
    PyRef fresh = PyRef::steal(PyObject_GetAttr(worker_loop_.get(), task_name_.get()));
    if (fresh) task_ = std::move(fresh);
    else cleanup("reading the worker's fresh task", std::move(fresh));
}

// One send with the loop running and the task current; every step undone
// in reverse order, whatever happened.
int EventLoop::send_directly(PyObject* iterator, PyObject* context, PyRef& value) {
    if (PyContext_Enter(context) < 0) return PYGEN_ERROR;
    PySendResult sent = PYGEN_ERROR;
    bool set_here = !held_running_;
    if (PyRef set = set_here ? call(set_running_loop_.get(), loop_.get()) : PyRef::borrow(Py_None)) {
        if (PyRef entered = call(enter_task_.get(), loop_.get(), task_.get())) {
            PyObject* out = nullptr;
            sent = PyIter_Send(iterator, Py_None, &out);
            value = PyRef::steal(out);
            PendingException pending;
            cleanup("leaving the request task", call(leave_task_.get(), loop_.get(), task_.get()));
        }
        PendingException pending;
        if (set_here) cleanup("unsetting the running loop", call(set_running_loop_.get(), Py_None));
    }
    PendingException pending;
    if (PyContext_Exit(context) < 0) log::warning("event loop: leaving the request context failed: {}", take_exception_text());
    return sent;
}

// Nothing of one request driven to its end directly may reach the next: a
// cancel() it made on its task is forgotten.
void EventLoop::forget_direct_cancel() {
    PendingException pending;
    PyRef requested = PyRef::steal(PyObject_GetAttr(task_.get(), cancel_requested_name_.get()));
    if (requested.get() == Py_True) cleanup("resetting the request task", call(reset_task_.get()));
    else if (!requested) cleanup("reading the request task", std::move(requested));
}

int EventLoop::timeout_ms() {
    Py_ssize_t ready = PyObject_Length(ready_.get());
    if (ready != 0) {
        if (ready < 0) log::warning("event loop: reading its ready queue failed: {}", take_exception_text());
        return 0;
    }
    PyRef scheduled = PyRef::steal(PyObject_GetAttr(loop_.get(), scheduled_name_.get()));
    if (scheduled && PyList_Check(scheduled.get()) && PyList_GET_SIZE(scheduled.get()) == 0) return -1;
    PyRef seconds = call(next_timeout_.get());
    double s = seconds ? PyFloat_AsDouble(seconds.get()) : 0.0;
    if (PyErr_Occurred()) {
        log::warning("event loop: reading its next timer failed: {}", take_exception_text());
        return 0;
    }
    if (s < 0) return -1;
    // Rounded up: waking a little early would only spin once more.
    return static_cast<int>(std::min(std::ceil(s * 1000.0), 3600.0 * 1000.0));
}

void EventLoop::run_ready() {
    PendingException pending;
    cleanup("running one loop iteration", call(run_ready_.get()));
}

}  // namespace pycnode::python
