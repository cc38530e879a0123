#include "asgi/asgi_cycle.hpp"

#include "app/log.hpp"
#include "asgi/asgi_ready.hpp"
#include "asgi/asgi_response.hpp"
#include "asgi/asgi_worker.hpp"
#include "python/compat.hpp"
#include "python/errors.hpp"
#include "python/event_loop.hpp"
#include "python/waiting.hpp"
#include "python/worker_context.hpp"

#include <cstddef>

namespace pycnode::python {
namespace {

// pyrunner.asgi.HTTPCycle's phases, in order.
enum Phase : int { NotStarted, SendingBody, SendingTrailers, Complete };

constexpr long lowest_status = 100;
constexpr long highest_status = 999;
constexpr const char* capsule_name = "pycnode.asgi_cycle_kit";

// What a worker's cycles share. Owned by a capsule; every cycle holds the
// capsule, so the kit outlives any cycle an app keeps.
struct Kit {
    PyRef cycle_type, ready_type;
    PyRef ready_none;  // what send() returns: an awaitable already done, with None
    PyRef type, body, more_body, status, headers, trailers, more_trailers, get;
    PyRef http_request, http_disconnect, response_start, response_body, response_trailers;
    PyRef empty_bytes, empty_tuple;
    PyRef protocol_error, no_response;
    PyRef receive_after_body, check_headers, log_after_response;  // pyrunner.asgi's
};

struct Cycle {
    PyObject_HEAD
    PyObject* capsule;
    const Kit* kit;
    PyObject* body;     // the request body, until receive() hands it out
    PyObject* first;    // the first non-empty response body chunk
    PyObject* more;     // a list of the later chunks, or null
    PyObject* status;
    PyObject* headers;
    PyObject* error;    // str: the first protocol error, sticky
    PyObject* waiter;   // a Future resolved when the response completes
    int phase;
    bool trailers;
    bool disconnected;  // the caller gave up: receive() says http.disconnect
};

Cycle* as_cycle(PyObject* self) { return reinterpret_cast<Cycle*>(self); }

// --- the cycle's state changes ---

// Resolves the waiter of a receive() that waits for the response.
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

void finish(Cycle* self, int& status) {
    self->phase = Complete;
    if (wake_waiter(self) < 0) status = -1;
}

// message.get(key, default), the dict case without a method call.
PyRef event_get(const Kit& kit, PyObject* message, PyObject* key, PyObject* fallback) {
    if (PyDict_CheckExact(message)) {
        PyRef value;
        int found = dict_item(message, key, value);
        if (found < 0) return {};
        return found ? std::move(value) : PyRef::borrow(fallback);
    }
    PyObject* args[] = {message, key, fallback};
    return PyRef::steal(PyObject_VectorcallMethod(kit.get.get(), args, 3, nullptr));
}

const char* type_name(PyObject* obj, PyRef& holder) {
    holder = PyRef::steal(PyType_GetName(Py_TYPE(obj)));
    const char* name = holder ? PyUnicode_AsUTF8(holder.get()) : nullptr;
    if (!name) PyErr_Clear();
    return name ? name : "?";
}

// pyrunner.asgi._check_headers, with its ASGIProtocolError made the cycle's.
PyRef checked_headers(Cycle* self, PyObject* headers, PyObject* what) {
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
PyRef start_headers(Cycle* self, PyObject* headers) {
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

PyRef start_status(Cycle* self, PyObject* message) {
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

PyRef call3(PyObject* fn, PyObject* a, PyObject* b, PyObject* c) {
    PyObject* args[] = {nullptr, a, b, c};
    return PyRef::steal(PyObject_Vectorcall(fn, args + 1, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr));
}

PyMethodDef receive_def = {"receive", &cycle_receive, METH_NOARGS, nullptr};
PyMethodDef send_def = {"send", &cycle_send, METH_O, nullptr};

// default_asgi_handler's except clause: an exception raised before the
// response was complete is the request's; one raised after is logged and
// the response kept; a protocol error stays the answer either way.
bool keep_response_after(Cycle* c) {
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
term::Term response_reply(WorkerContext& ctx, AsgiWorker& asgi, Cycle* c, term::ByteArena& arena) {
    const Kit& kit = *c->kit;
    if (c->error) PyErr_SetObject(kit.protocol_error.get(), c->error);
    else if (c->phase == NotStarted) PyErr_SetString(kit.no_response.get(), "the app returned without starting a response");
    else if (c->phase != Complete) PyErr_SetString(kit.protocol_error.get(), "response incomplete");
    if (PyErr_Occurred()) return asgi_error_reply(ctx, asgi, arena);
    PyRef body;
    if (!c->first) {
        body = PyRef::borrow(kit.empty_bytes.get());
    } else if (!c->more) {
        body = PyRef::borrow(c->first);
    } else if (PyList_Insert(c->more, 0, c->first) == 0) {
        body = PyRef::steal(PyObject_CallMethod(kit.empty_bytes.get(), "join", "O", c->more));
    }
    PyRef result = body ? PyRef::steal(PyTuple_Pack(3, c->status, c->headers, body.get())) : PyRef();
    if (!result) return asgi_error_reply(ctx, asgi, arena);
    return asgi_response_reply(ctx, result.get(), arena);
}

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

namespace {

// The reply of a cycle whose app returned `returned`, or raised (null, its
// exception set).
term::Term finish_cycle(WorkerContext& ctx, PyObject* cycle, PyObject* returned, term::ByteArena& arena) {
    AsgiWorker& asgi = *ctx.extension<AsgiWorker>();  // made before the cycle, it outlives the worker's loop
    Cycle* c = as_cycle(cycle);
    if (!returned && !keep_response_after(c)) return asgi_error_reply(ctx, asgi, arena);
    return response_reply(ctx, asgi, c, arena);
}

// The caller gave up: the app's receive() says http.disconnect now, and
// its task is cancelled after the grace period unless it ends first.
void disconnect_cycle(WorkerContext& ctx, PyObject* cycle, PyObject* task) {
    Cycle* c = as_cycle(cycle);
    c->disconnected = true;
    if (wake_waiter(c) < 0) log::warning("asgi: waking a disconnected request failed: {}", take_exception_text());
    EventLoop* loop = ctx.existing_event_loop();
    unsigned grace = ctx.cancel_grace_ms();
    if (!loop || grace == 0) return cancel_task(ctx, cycle, task);
    PyRef cancel = PyRef::steal(PyObject_GetAttrString(task, "cancel"));
    PyRef timer = cancel ? PyRef::steal(PyObject_CallMethod(loop->loop(), "call_later", "dO", grace / 1000.0,
                                                            cancel.get()))
                         : PyRef();
    if (!timer) log::warning("asgi: scheduling the cancel of an abandoned request failed: {}", take_exception_text());
}

}  // namespace

term::Term run_native_cycle(WorkerContext& ctx, AsgiWorker& asgi, PyObject* app, PyObject* scope, PyObject* body,
                            term::ByteArena& arena) {
    PyRef cycle = new_cycle(asgi.cycle_kit(), body);
    if (!cycle) return asgi_error_reply(ctx, asgi, arena);
    PyRef receive = PyRef::steal(PyCFunction_New(&receive_def, cycle.get()));
    PyRef send = receive ? PyRef::steal(PyCFunction_New(&send_def, cycle.get())) : PyRef();
    if (!send) return asgi_error_reply(ctx, asgi, arena);
    PyRef awaitable = call3(app, scope, receive.get(), send.get());
    if (!awaitable) return finish_cycle(ctx, cycle.get(), nullptr, arena);
    PyRef returned;
    if (await_or_defer(ctx, awaitable.get(), returned, cycle.get(), &finish_cycle, &disconnect_cycle) ==
        Awaited::Deferred)
        return {};
    return finish_cycle(ctx, cycle.get(), returned.get(), arena);
}

}  // namespace pycnode::python
