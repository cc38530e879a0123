#include "wsgi/wsgi_response.hpp"

#include "python/compat.hpp"

#include <fmt/format.h>

#include <new>
#include <type_traits>

namespace pycnode::python::wsgi {
namespace {

struct ResponseState {
    PyRef protocol_error;  // pyrunner.wsgi.WSGIProtocolError
    std::string status;
    std::vector<Header> headers;
    std::string body;
    std::string violation;  // the first breach of PEP 3333
    bool started = false;       // start_response succeeded at least once
    bool headers_sent = false;  // body bytes exist: exc_info must be re-raised
    bool finished = false;      // the reply is built: nothing may change it
};

struct ResponseObject {
    PyObject_HEAD
    ResponseState state;  // constructed in new_response, destroyed in dealloc
};

ResponseState& state_of(PyObject* self) { return reinterpret_cast<ResponseObject*>(self)->state; }

// Runs `f` on the state inside the object's critical section. `f` must not
// call into Python code (which could suspend the section).
template <class F>
decltype(auto) locked(PyObject* self, F&& f) {
    ResponseState& st = state_of(self);
    if constexpr (std::is_void_v<decltype(f(st))>) {
        PYCNODE_BEGIN_CRITICAL_SECTION(self);
        f(st);
        PYCNODE_END_CRITICAL_SECTION();
    } else {
        decltype(f(st)) result{};
        PYCNODE_BEGIN_CRITICAL_SECTION(self);
        result = f(st);
        PYCNODE_END_CRITICAL_SECTION();
        return result;
    }
}

// Raises WSGIProtocolError(detail) in the application, without recording it.
PyObject* raise_protocol_error(PyObject* self, const std::string& detail) {
    PyErr_SetString(state_of(self).protocol_error.get(), detail.c_str());
    return nullptr;
}

// A breach: recorded (so it is reported even if the app catches it), then raised.
PyObject* violate(PyObject* self, std::string detail) {
    record_violation(self, detail);
    return raise_protocol_error(self, detail);
}

// (status, headers, exc_info=None), exc_info also by keyword. Like a Python
// signature, a mismatch is a TypeError, not a breach of PEP 3333.
bool parse_arguments(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, PyObject*& exc_info) {
    Py_ssize_t keywords = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 2 || nargs + keywords > 3) {
        PyErr_Format(PyExc_TypeError, "start_response() takes status, headers and an optional exc_info "
                                      "(%zd arguments given)", nargs + keywords);
        return false;
    }
    if (keywords == 1) {
        PyObject* name = PyTuple_GET_ITEM(kwnames, 0);
        if (PyUnicode_CompareWithASCIIString(name, "exc_info") != 0) {
            PyErr_Format(PyExc_TypeError, "start_response() got an unexpected keyword argument %R", name);
            return false;
        }
    }
    exc_info = nargs + keywords == 3 ? args[2] : nullptr;
    if (exc_info == Py_None) exc_info = nullptr;
    return true;
}

// Headers already sent: PEP 3333 says re-raise exc_info, as
// `raise exc_info[1].with_traceback(exc_info[2])` would.
PyObject* reraise(PyObject* self, PyObject* exc_info) {
    PyObject* error = PyTuple_GET_ITEM(exc_info, 1);
    if (!PyExceptionInstance_Check(error)) return violate(self, "start_response: exc_info holds no exception");
    if (PyException_SetTraceback(error, PyTuple_GET_ITEM(exc_info, 2)) < 0) return nullptr;
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error)), error);
    return nullptr;
}

PyObject* write_body(PyObject* self, PyObject* data);

PyMethodDef write_def = {"write", &write_body, METH_O,
                         "write(data)\n--\n\nAppend bytes to the response body (PEP 3333's write callable)."};

// The state checks run first, in pyrunner.wsgi.StartResponse's order, then
// the arguments; the state changes only once everything is valid.
PyObject* start_response(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
    PyObject* exc_info = nullptr;
    if (!parse_arguments(args, nargs, kwnames, exc_info)) return nullptr;
    struct Seen {
        bool finished, sent, started;
    };
    Seen seen = locked(self, [](ResponseState& st) { return Seen{st.finished, st.headers_sent, st.started}; });
    if (seen.finished) return raise_protocol_error(self, "start_response called after the response was complete");
    if (exc_info) {
        if (!PyTuple_CheckExact(exc_info) || PyTuple_GET_SIZE(exc_info) != 3)
            return violate(self, "start_response: exc_info must be None or a (type, value, traceback) tuple");
        if (seen.sent) return reraise(self, exc_info);
    } else if (seen.started) {
        return violate(self, "start_response called a second time without exc_info");
    }
    std::string status;
    std::vector<Header> headers;
    std::string problem = read_status(args[0], Strictness::Pep3333, "start_response", status);
    if (problem.empty()) problem = read_headers(args[1], Strictness::Pep3333, "start_response", headers);
    if (!problem.empty()) return violate(self, std::move(problem));
    locked(self, [&](ResponseState& st) {
        st.status = std::move(status);
        st.headers = std::move(headers);
        st.started = true;
    });
    return PyCFunction_NewEx(&write_def, self, nullptr);
}

PyObject* write_body(PyObject* self, PyObject* data) {
    bool bytes = PyBytes_Check(data);
    bool finished = locked(self, [&](ResponseState& st) {
        if (!st.finished && bytes && PyBytes_GET_SIZE(data) > 0) {
            st.body.append(PyBytes_AS_STRING(data), static_cast<std::size_t>(PyBytes_GET_SIZE(data)));
            st.headers_sent = true;
        }
        return st.finished;
    });
    if (finished) return raise_protocol_error(self, "write() called after the response was complete");
    if (!bytes) return violate(self, fmt::format("write() argument must be bytes, not {}", type_name_of(data)));
    Py_RETURN_NONE;
}

PyMethodDef start_response_def = {
    "start_response", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&start_response)),
    METH_FASTCALL | METH_KEYWORDS,
    "start_response(status, headers, /, exc_info=None)\n--\n\n"
    "Begin the response (PEP 3333); returns the write callable."};

void response_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    state_of(self).~ResponseState();
    type->tp_free(self);
    Py_DECREF(type);  // heap-type instances own a reference to their type
}

PyType_Slot response_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(&response_dealloc)},
    {Py_tp_doc, const_cast<char*>("One WSGI response being produced; start_response and write are bound to it.")},
    {0, nullptr},
};

// Not instantiable from Python: its C++ state is constructed by new_response only.
PyType_Spec response_spec = {
    "pycnode.WsgiResponse", static_cast<int>(sizeof(ResponseObject)), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE, response_slots};

}  // namespace

PyRef make_response_type() { return PyRef::steal(PyType_FromSpec(&response_spec)); }

PyRef new_response(PyObject* response_type, PyObject* protocol_error) {
    auto* type = reinterpret_cast<PyTypeObject*>(response_type);
    PyObject* self = type->tp_alloc(type, 0);
    if (!self) return {};
    new (&state_of(self)) ResponseState();
    state_of(self).protocol_error = PyRef::borrow(protocol_error);
    return PyRef::steal(self);
}

PyRef start_response_of(PyObject* response) {
    return PyRef::steal(PyCFunction_NewEx(&start_response_def, response, nullptr));
}

bool append_body(PyObject* response, PyObject* item) {
    if (!PyBytes_Check(item)) {
        record_violation(response, fmt::format("response body items must be bytes, not {}", type_name_of(item)));
        return false;
    }
    if (PyBytes_GET_SIZE(item) == 0) return true;
    bool started = locked(response, [&](ResponseState& st) {
        if (st.started) {
            st.body.append(PyBytes_AS_STRING(item), static_cast<std::size_t>(PyBytes_GET_SIZE(item)));
            st.headers_sent = true;
        }
        return st.started;
    });
    if (!started) record_violation(response, "start_response was not called");
    return started;
}

void record_violation(PyObject* response, std::string detail) {
    locked(response, [&](ResponseState& st) {
        if (st.violation.empty()) st.violation = std::move(detail);
    });
}

bool finish_response(PyObject* response, ResponseParts& parts, std::string& violation) {
    return locked(response, [&](ResponseState& st) {
        st.finished = true;
        parts.status = std::move(st.status);
        parts.headers = std::move(st.headers);
        parts.body = std::move(st.body);
        violation = st.violation;
        return st.started;
    });
}

}  // namespace pycnode::python::wsgi
