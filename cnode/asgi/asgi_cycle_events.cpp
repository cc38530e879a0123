// What each event an app sends does to its native cycle: the state
// machine of pyrunner.asgi.HTTPCycle, check for check.
#include "asgi/asgi_cycle_state.hpp"

#include "python/compat.hpp"
#include "python/errors.hpp"

namespace pycnode::python::cycle {
// --- the cycle's state changes ---

int wake_waiter(Cycle* self) {
    PyRef waiter = PyRef::steal(self->waiter);
    self->waiter = nullptr;
    if (!waiter || waiter.get() == Py_None) return 0;
    PyRef done = PyRef::steal(PyObject_CallMethod(waiter.get(), "done", nullptr));
    if (!done) return -1;
    int is_done = PyObject_IsTrue(done.get());
    if (is_done != 0) return is_done < 0 ? -1 : 0;
    PyRef set = PyRef::steal(PyObject_CallMethod(waiter.get(), "set_result", "O", Py_None));
    return set ? 0 : -1;
}

// Records the first protocol error (sticky) and raises ASGIProtocolError.
// Steals `detail`; always returns null.
PyObject* fail(Cycle* self, PyObject* detail) {
    PyRef owned = PyRef::steal(detail);
    if (!owned) return nullptr;
    if (!self->error) self->error = Py_NewRef(owned.get());
    if (wake_waiter(self) < 0) return nullptr;
    PyErr_SetObject(self->kit->protocol_error.get(), owned.get());
    return nullptr;
}

PyObject* fail(Cycle* self, const char* detail) { return fail(self, PyUnicode_FromString(detail)); }

static void finish(Cycle* self, int& status) {
    self->phase = Complete;
    if (wake_waiter(self) < 0) status = -1;
}

// message.get(key, default), the dict case without a method call.
static PyRef event_get(const Kit& kit, PyObject* message, PyObject* key, PyObject* fallback) {
    if (PyDict_CheckExact(message)) {
        PyRef value;
        int found = dict_item(message, key, value);
        if (found < 0) return {};
        return found ? std::move(value) : PyRef::borrow(fallback);
    }
    PyObject* args[] = {message, key, fallback};
    return PyRef::steal(PyObject_VectorcallMethod(kit.get.get(), args, 3, nullptr));
}

static const char* type_name(PyObject* obj, PyRef& holder) {
    holder = PyRef::steal(PyType_GetName(Py_TYPE(obj)));
    const char* name = holder ? PyUnicode_AsUTF8(holder.get()) : nullptr;
    if (!name) PyErr_Clear();
    return name ? name : "?";
}

// pyrunner.asgi._check_headers, with its ASGIProtocolError made the cycle's.
static PyRef checked_headers(Cycle* self, PyObject* headers, PyObject* what) {
    PyObject* args[] = {nullptr, headers, what};
    PyRef checked = PyRef::steal(PyObject_Vectorcall(self->kit->check_headers.get(), args + 1,
                                                     2 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
    if (checked || !PyErr_ExceptionMatches(self->kit->protocol_error.get())) return checked;
    PyRef exc = take_exception();
    fail(self, PyObject_Str(exc.get()));
    return {};
}

// The common shape, [(bytes, bytes), ...] in a list or tuple, taken as it
// is; anything else goes through pyrunner.asgi._check_headers.
static PyRef start_headers(Cycle* self, PyObject* headers) {
    if (PyList_CheckExact(headers) || PyTuple_CheckExact(headers)) {
        PyRef copy = PyRef::steal(PyList_New(0));
        bool plain = bool(copy);
        for (Py_ssize_t i = 0; plain; ++i) {
            PyRef pair = PyTuple_CheckExact(headers)
                             ? (i < PyTuple_GET_SIZE(headers) ? PyRef::borrow(PyTuple_GET_ITEM(headers, i)) : PyRef())
                             : list_item(headers, i);
            if (!pair) break;
            plain = PyTuple_CheckExact(pair.get()) && PyTuple_GET_SIZE(pair.get()) == 2 &&
                    PyBytes_CheckExact(PyTuple_GET_ITEM(pair.get(), 0)) &&
                    PyBytes_CheckExact(PyTuple_GET_ITEM(pair.get(), 1)) && PyList_Append(copy.get(), pair.get()) == 0;
        }
        if (plain) return copy;
        if (PyErr_Occurred()) return {};
    }
    return checked_headers(self, headers, self->kit->response_start.get());
}

static PyRef start_status(Cycle* self, PyObject* message) {
    const Kit& kit = *self->kit;
    PyRef status = event_get(kit, message, kit.status.get(), Py_None);
    if (!status) return {};
    if (!PyLong_CheckExact(status.get())) {
        if (!PyLong_Check(status.get()) || PyBool_Check(status.get())) {
            PyRef name;
            fail(self, PyUnicode_FromFormat("http.response.start status must be an int, not %s",
                                            type_name(status.get(), name)));
            return {};
        }
        status = PyRef::steal(PyNumber_Long(status.get()));
        if (!status) return {};
    }
    int overflow = 0;
    long value = PyLong_AsLongAndOverflow(status.get(), &overflow);
    if (value == -1 && PyErr_Occurred()) return {};
    if (overflow || value < lowest_status || value > highest_status) {
        fail(self, PyUnicode_FromFormat("http.response.start status %S is not a 3-digit HTTP status", status.get()));
        return {};
    }
    return status;
}

int on_start(Cycle* self, PyObject* message) {
    const Kit& kit = *self->kit;
    if (self->phase != NotStarted) return fail(self, "http.response.start sent twice"), -1;
    PyRef status = start_status(self, message);
    if (!status) return -1;
    PyRef given = event_get(kit, message, kit.headers.get(), kit.empty_tuple.get());
    PyRef headers = given ? start_headers(self, given.get()) : PyRef();
    if (!headers) return -1;
    Py_XSETREF(self->headers, headers.release());
    Py_XSETREF(self->status, status.release());
    PyRef trailers = event_get(kit, message, kit.trailers.get(), Py_False);
    int wants = trailers ? PyObject_IsTrue(trailers.get()) : -1;
    if (wants < 0) return -1;
    self->trailers = wants;
    self->phase = SendingBody;
    return 0;
}

// A body event while the body is being sent: the common case.
int on_body(Cycle* self, PyObject* message) {
    const Kit& kit = *self->kit;
    PyRef body = event_get(kit, message, kit.body.get(), kit.empty_bytes.get());
    if (!body) return -1;
    if (!PyBytes_CheckExact(body.get())) {
        if (!PyBytes_Check(body.get()) && !PyByteArray_Check(body.get()) && !PyMemoryView_Check(body.get())) {
            PyRef name;
            return fail(self, PyUnicode_FromFormat("http.response.body body must be bytes, not %s",
                                                   type_name(body.get(), name))),
                   -1;
        }
        // A copy: the app may reuse its buffer.
        body = PyRef::steal(PyObject_CallOneArg(reinterpret_cast<PyObject*>(&PyBytes_Type), body.get()));
        if (!body) return -1;
    }
    if (PyBytes_GET_SIZE(body.get()) > 0) {
        if (!self->first) {
            self->first = body.release();
        } else {
            if (!self->more && !(self->more = PyList_New(0))) return -1;
            if (PyList_Append(self->more, body.get()) < 0) return -1;
        }
    }
    PyRef more = event_get(kit, message, kit.more_body.get(), Py_False);
    int more_coming = more ? PyObject_IsTrue(more.get()) : -1;
    if (more_coming < 0) return -1;
    int status = 0;
    if (!more_coming) {
        if (self->trailers) self->phase = SendingTrailers;
        else finish(self, status);
    }
    return status;
}

int on_trailers(Cycle* self, PyObject* message) {
    const Kit& kit = *self->kit;
    if (!self->trailers)
        return fail(self, "http.response.trailers sent without trailers=True in http.response.start"), -1;
    if (self->phase != SendingTrailers) return fail(self, "http.response.trailers sent before the last body chunk"), -1;
    PyRef given = event_get(kit, message, kit.headers.get(), kit.empty_tuple.get());
    if (!given || !checked_headers(self, given.get(), kit.response_trailers.get())) return -1;
    PyRef more = event_get(kit, message, kit.more_trailers.get(), Py_False);
    int more_coming = more ? PyObject_IsTrue(more.get()) : -1;
    if (more_coming < 0) return -1;
    int status = 0;
    if (!more_coming) finish(self, status);
    return status;
}



}  // namespace pycnode::python::cycle
