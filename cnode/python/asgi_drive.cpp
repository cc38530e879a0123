#include "python/asgi_drive.hpp"

#include "app/log.hpp"
#include "python/errors.hpp"

namespace pycnode::python {
namespace {

PyRef attribute(PyObject* owner, const char* name) { return PyRef::steal(PyObject_GetAttrString(owner, name)); }

PyRef import_attribute(const char* module, const char* name) {
    PyRef owner = PyRef::steal(PyImport_ImportModule(module));
    return owner ? attribute(owner.get(), name) : PyRef();
}

PyRef call(PyObject* fn, PyObject* a = nullptr, PyObject* b = nullptr, PyObject* c = nullptr) {
    PyObject* args[] = {nullptr, a, b, c};
    std::size_t n = c ? 3 : b ? 2 : a ? 1 : 0;
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
    if (!result) log::warning("asgi: {} failed: {}", what, take_exception_text());
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

std::unique_ptr<AsgiDriver> AsgiDriver::create(PyObject* worker_loop) {
    std::unique_ptr<AsgiDriver> driver(new AsgiDriver());
    if (!driver->load(worker_loop)) return nullptr;
    return driver;
}

bool AsgiDriver::load(PyObject* worker_loop) {
    loop_ = attribute(worker_loop, "loop");
    task_ = attribute(worker_loop, "task");
    hand_off_ = attribute(worker_loop, "hand_off");
    settle_ = attribute(worker_loop, "settle");
    reset_task_ = attribute(worker_loop, "reset_task");
    ready_ = loop_ ? attribute(loop_.get(), "_ready") : PyRef();
    set_running_loop_ = import_attribute("asyncio.events", "_set_running_loop");
    enter_task_ = import_attribute("asyncio.tasks", "_enter_task");
    leave_task_ = import_attribute("asyncio.tasks", "_leave_task");
    scheduled_name_ = PyRef::steal(PyUnicode_InternFromString("_scheduled"));
    cancel_requested_name_ = PyRef::steal(PyUnicode_InternFromString("_cancel_requested"));
    return task_ && hand_off_ && settle_ && reset_task_ && ready_ && set_running_loop_ && enter_task_ &&
           leave_task_ && scheduled_name_ && cancel_requested_name_;
}

PyRef AsgiDriver::run(PyObject* awaitable) {
    PyRef iterator = await_iterator(awaitable);
    PyRef context = iterator ? PyRef::steal(PyContext_CopyCurrent()) : PyRef();
    if (!context) return {};
    PyRef value;
    int sent = send_directly(iterator.get(), context.get(), value);
    PyRef result;
    if (sent == PYGEN_RETURN)
        result = std::move(value);
    else if (sent == PYGEN_NEXT)
        result = call(hand_off_.get(), iterator.get(), value.get(), context.get());
    after_request();
    return result;
}

// One send with the loop running and the task current; every step undone
// in reverse order, whatever happened.
int AsgiDriver::send_directly(PyObject* iterator, PyObject* context, PyRef& value) {
    if (PyContext_Enter(context) < 0) return PYGEN_ERROR;
    PySendResult sent = PYGEN_ERROR;
    if (PyRef set = call(set_running_loop_.get(), loop_.get())) {
        if (PyRef entered = call(enter_task_.get(), loop_.get(), task_.get())) {
            PyObject* out = nullptr;
            sent = PyIter_Send(iterator, Py_None, &out);
            value = PyRef::steal(out);
            PendingException pending;
            cleanup("leaving the request task", call(leave_task_.get(), loop_.get(), task_.get()));
        }
        PendingException pending;
        cleanup("unsetting the running loop", call(set_running_loop_.get(), Py_None));
    }
    PendingException pending;
    if (PyContext_Exit(context) < 0) log::warning("asgi: leaving the request context failed: {}", take_exception_text());
    return sent;
}

// Nothing of one request may reach the next: a cancel() made while the
// request was driven directly is forgotten, and callbacks it left ready
// or timers it cancelled are run or dropped (WorkerLoop.settle).
void AsgiDriver::after_request() {
    PendingException pending;
    PyRef requested = PyRef::steal(PyObject_GetAttr(task_.get(), cancel_requested_name_.get()));
    if (requested.get() == Py_True)
        cleanup("resetting the request task", call(reset_task_.get()));
    else if (!requested)
        cleanup("reading the request task", std::move(requested));
    Py_ssize_t ready = PyObject_Length(ready_.get());
    PyRef scheduled = PyRef::steal(PyObject_GetAttr(loop_.get(), scheduled_name_.get()));
    bool timers = scheduled && PyList_Check(scheduled.get()) && PyList_GET_SIZE(scheduled.get()) > 0;
    if (ready != 0 || timers) cleanup("settling the event loop", call(settle_.get()));
    if (PyErr_Occurred()) log::warning("asgi: inspecting the event loop failed: {}", take_exception_text());
}

}  // namespace pycnode::python
