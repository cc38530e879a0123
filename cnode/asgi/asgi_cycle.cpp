#include "asgi/asgi_cycle.hpp"

#include "app/log.hpp"
#include "asgi/asgi_cycle_state.hpp"
#include "asgi/asgi_ready.hpp"
#include "python/compat.hpp"
#include "python/errors.hpp"

#include <cstddef>

namespace pycnode::python {
using namespace cycle;
namespace {

constexpr const char* capsule_name = "pycnode.asgi_cycle_kit";

// 1 if `kind` == `name` (Python's ==), 0 if not, -1 on error.
int is_kind(PyObject* kind, const PyRef& name) { return PyObject_RichCompareBool(kind, name.get(), Py_EQ); }

// --- the cycle's Python face: receive, send, and what pyrunner.asgi's wait uses ---

PyObject* cycle_send(PyObject* self_obj, PyObject* message) {
    Cycle* self = as_cycle(self_obj);
    const Kit& kit = *self->kit;
    if (self->error) {
        PyErr_SetObject(kit.protocol_error.get(), self->error);
        return nullptr;
    }
    PyRef kind = PyRef::steal(PyObject_GetItem(message, kit.type.get()));
    if (!kind) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError) && !PyErr_ExceptionMatches(PyExc_TypeError) &&
            !PyErr_ExceptionMatches(PyExc_IndexError))
            return nullptr;
        PyErr_Clear();
        return fail(self, "send() takes an event: a dict with a 'type'");
    }
    int body = is_kind(kind.get(), kit.response_body);
    if (body < 0) return nullptr;
    int done = 0;
    if (body && self->phase == SendingBody) {
        done = on_body(self, message);
    } else if (self->phase == Complete) {
        return fail(self, PyUnicode_FromFormat("%R sent after the response was complete", kind.get()));
    } else if (int start = is_kind(kind.get(), kit.response_start); start != 0) {
        done = start < 0 ? -1 : on_start(self, message);
    } else if (body) {
        return fail(self, self->phase == NotStarted ? "http.response.body sent before http.response.start"
                                                    : "http.response.body sent after the last body chunk");
    } else if (int trailers = is_kind(kind.get(), kit.response_trailers); trailers != 0) {
        done = trailers < 0 ? -1 : on_trailers(self, message);
    } else {
        return fail(self, PyUnicode_FromFormat("unknown event type %R", kind.get()));
    }
    return done < 0 ? nullptr : Py_NewRef(kit.ready_none.get());
}

PyRef event(PyObject* type_key, PyObject* type) {
    PyRef dict = PyRef::steal(PyDict_New());
    if (!dict || PyDict_SetItem(dict.get(), type_key, type) < 0) return {};
    return dict;
}

PyObject* cycle_receive(PyObject* self_obj, PyObject*) {
    Cycle* self = as_cycle(self_obj);
    const Kit& kit = *self->kit;
    if (self->body && !self->disconnected) {
        PyRef request = event(kit.type.get(), kit.http_request.get());
        if (!request || PyDict_SetItem(request.get(), kit.body.get(), self->body) < 0 ||
            PyDict_SetItem(request.get(), kit.more_body.get(), Py_False) < 0)
            return nullptr;
        Py_CLEAR(self->body);
        return new_ready(kit.ready_type.get(), request.get());
    }
    // Before the response completes, wait for it as a server waits for the
    // client to go away: rare, and asyncio's business, so in Python.
    if (self->phase != Complete && !self->error && !self->disconnected)
        return PyObject_CallOneArg(kit.receive_after_body.get(), self_obj);
    PyRef disconnect = event(kit.type.get(), kit.http_disconnect.get());
    return disconnect ? new_ready(kit.ready_type.get(), disconnect.get()) : nullptr;
}

PyObject* cycle_wake_waiter(PyObject* self, PyObject*) {
    if (wake_waiter(as_cycle(self)) < 0) return nullptr;
    Py_RETURN_NONE;
}

PyObject* cycle_get_waiter(PyObject* self, void*) {
    PyObject* waiter = as_cycle(self)->waiter;
    return Py_NewRef(waiter ? waiter : Py_None);
}

int cycle_set_waiter(PyObject* self, PyObject* value, void*) {
    Py_XSETREF(as_cycle(self)->waiter, value && value != Py_None ? Py_NewRef(value) : nullptr);
    return 0;
}

PyObject* cycle_get_complete(PyObject* self, void*) { return PyBool_FromLong(as_cycle(self)->phase == Complete); }

PyObject* cycle_get_error(PyObject* self, void*) {
    PyObject* error = as_cycle(self)->error;
    return Py_NewRef(error ? error : Py_None);
}

int cycle_traverse(PyObject* self_obj, visitproc visit, void* arg) {
    Cycle* self = as_cycle(self_obj);
    Py_VISIT(Py_TYPE(self_obj));
    Py_VISIT(self->capsule);
    Py_VISIT(self->body);
    Py_VISIT(self->first);
    Py_VISIT(self->more);
    Py_VISIT(self->status);
    Py_VISIT(self->headers);
    Py_VISIT(self->error);
    Py_VISIT(self->waiter);
    return 0;
}

int cycle_clear(PyObject* self_obj) {
    Cycle* self = as_cycle(self_obj);
    Py_CLEAR(self->body);
    Py_CLEAR(self->first);
    Py_CLEAR(self->more);
    Py_CLEAR(self->status);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->error);
    Py_CLEAR(self->waiter);
    return 0;  // the capsule stays: `kit` must stay valid until dealloc
}

void cycle_dealloc(PyObject* self_obj) {
    PyTypeObject* type = Py_TYPE(self_obj);
    PyObject_GC_UnTrack(self_obj);
    cycle_clear(self_obj);
    Py_CLEAR(as_cycle(self_obj)->capsule);
    type->tp_free(self_obj);
    Py_DECREF(type);
}

PyMethodDef cycle_methods[] = {
    {"receive", &cycle_receive, METH_NOARGS, "receive()\n--\n\nThe next ASGI event for the app."},
    {"send", &cycle_send, METH_O, "send(event)\n--\n\nAn ASGI event from the app."},
    {"_wake_waiter", &cycle_wake_waiter, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef cycle_getset[] = {
    {"_waiter", &cycle_get_waiter, &cycle_set_waiter, nullptr, nullptr},
    {"complete", &cycle_get_complete, nullptr, nullptr, nullptr},
    {"error", &cycle_get_error, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot cycle_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(&cycle_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(&cycle_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(&cycle_clear)},
    {Py_tp_methods, cycle_methods},
    {Py_tp_getset, cycle_getset},
    {0, nullptr},
};

PyType_Spec cycle_spec = {"pycnode.HTTPCycle", sizeof(Cycle), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION, cycle_slots};

// --- making a kit ---

PyRef intern(const char* text) { return PyRef::steal(PyUnicode_InternFromString(text)); }

PyRef asgi_attribute(const char* name) {
    PyRef module = PyRef::steal(PyImport_ImportModule("pyrunner.asgi"));
    return module ? PyRef::steal(PyObject_GetAttrString(module.get(), name)) : PyRef();
}

bool fill(Kit& kit, PyObject* protocol_error, PyObject* no_response) {
    kit.cycle_type = PyRef::steal(PyType_FromSpec(&cycle_spec));
    kit.ready_type = make_ready_type();
    if (!kit.cycle_type || !kit.ready_type) return false;
    kit.ready_none = PyRef::steal(new_ready(kit.ready_type.get(), Py_None));
    const struct {
        PyRef* slot;
        const char* text;
    } names[] = {{&kit.type, "type"}, {&kit.body, "body"}, {&kit.more_body, "more_body"},
                 {&kit.status, "status"}, {&kit.headers, "headers"}, {&kit.trailers, "trailers"},
                 {&kit.more_trailers, "more_trailers"}, {&kit.get, "get"}, {&kit.http_request, "http.request"},
                 {&kit.http_disconnect, "http.disconnect"}, {&kit.response_start, "http.response.start"},
                 {&kit.response_body, "http.response.body"}, {&kit.response_trailers, "http.response.trailers"}};
    for (const auto& n : names)
        if (!(*n.slot = intern(n.text))) return false;
    kit.empty_bytes = PyRef::steal(PyBytes_FromStringAndSize("", 0));
    kit.empty_tuple = PyRef::steal(PyTuple_New(0));
    kit.protocol_error = PyRef::borrow(protocol_error);
    kit.no_response = PyRef::borrow(no_response);
    kit.receive_after_body = asgi_attribute("receive_after_body");
    kit.check_headers = asgi_attribute("_check_headers");
    kit.log_after_response = asgi_attribute("log_after_response");
    return kit.ready_none && kit.empty_bytes && kit.empty_tuple && kit.receive_after_body && kit.check_headers && kit.log_after_response;
}

void delete_kit(PyObject* capsule) { delete static_cast<Kit*>(PyCapsule_GetPointer(capsule, capsule_name)); }

PyRef new_cycle(PyObject* capsule, PyObject* body) {
    auto* kit = static_cast<const Kit*>(PyCapsule_GetPointer(capsule, capsule_name));
    if (!kit) return {};
    auto* type = reinterpret_cast<PyTypeObject*>(kit->cycle_type.get());
    PyRef cycle = PyRef::steal(type->tp_alloc(type, 0));  // zeroed: every field null, phase NotStarted
    if (!cycle) return {};
    Cycle* c = as_cycle(cycle.get());
    c->capsule = Py_NewRef(capsule);
    c->kit = kit;
    c->body = Py_NewRef(body);
    return cycle;
}

PyMethodDef receive_def = {"receive", &cycle_receive, METH_NOARGS, nullptr};
PyMethodDef send_def = {"send", &cycle_send, METH_O, nullptr};

}  // namespace

PyRef CycleKit::create(PyObject* protocol_error, PyObject* no_response) {
    auto* kit = new Kit();
    PyRef capsule = PyRef::steal(PyCapsule_New(kit, capsule_name, &delete_kit));
    if (!capsule) {
        delete kit;
        return {};
    }
    return fill(*kit, protocol_error, no_response) ? std::move(capsule) : PyRef();
}

PyRef make_cycle(PyObject* kit, PyObject* body, PyRef& receive, PyRef& send) {
    PyRef cycle = new_cycle(kit, body);
    receive = cycle ? PyRef::steal(PyCFunction_New(&receive_def, cycle.get())) : PyRef();
    send = receive ? PyRef::steal(PyCFunction_New(&send_def, cycle.get())) : PyRef();
    return send ? std::move(cycle) : PyRef();
}

// default_asgi_handler's except clause: an exception raised before the
// response was complete is the request's; one raised after is logged and
// the response kept; a protocol error stays the answer either way.
bool cycle_keeps_response(PyObject* cycle) {
    Cycle* c = as_cycle(cycle);
    if (PyErr_ExceptionMatches(PyExc_GeneratorExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
        PyErr_ExceptionMatches(PyExc_SystemExit))
        return false;
    if (!c->error && c->phase != Complete) return false;
    PyRef exc = take_exception();
    if (!c->error && !PyRef::steal(PyObject_CallOneArg(c->kit->log_after_response.get(), exc.get()))) {
        log::warning("asgi: logging an exception raised after the response failed: {}", take_exception_text());
    }
    return true;
}

// HTTPCycle.result(): the response, or why there is none.
PyRef cycle_result(PyObject* cycle) {
    Cycle* c = as_cycle(cycle);
    const Kit& kit = *c->kit;
    if (c->error) PyErr_SetObject(kit.protocol_error.get(), c->error);
    else if (c->phase == NotStarted) PyErr_SetString(kit.no_response.get(), "the app returned without starting a response");
    else if (c->phase != Complete) PyErr_SetString(kit.protocol_error.get(), "response incomplete");
    if (PyErr_Occurred()) return {};
    PyRef body;
    if (!c->first) {
        body = PyRef::borrow(kit.empty_bytes.get());
    } else if (!c->more) {
        body = PyRef::borrow(c->first);
    } else if (PyList_Insert(c->more, 0, c->first) == 0) {
        body = PyRef::steal(PyObject_CallMethod(kit.empty_bytes.get(), "join", "O", c->more));
    }
    return body ? PyRef::steal(PyTuple_Pack(3, c->status, c->headers, body.get())) : PyRef();
}

int cycle_disconnect(PyObject* cycle) {
    Cycle* c = as_cycle(cycle);
    c->disconnected = true;
    return wake_waiter(c);
}

}  // namespace pycnode::python
