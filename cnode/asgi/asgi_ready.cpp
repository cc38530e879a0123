#include "asgi/asgi_ready.hpp"

namespace pycnode::python {
namespace {

struct Ready {
    PyObject_HEAD
    PyObject* value;
};

void ready_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    Py_XDECREF(reinterpret_cast<Ready*>(self)->value);
    type->tp_free(self);
    Py_DECREF(type);
}

PyObject* ready_self(PyObject* self) { return Py_NewRef(self); }

PySendResult ready_am_send(PyObject* self, PyObject*, PyObject** result) {
    *result = Py_NewRef(reinterpret_cast<Ready*>(self)->value);
    return PYGEN_RETURN;
}

// Done at the first step: StopIteration carries the value.
PyObject* ready_next(PyObject* self) {
    PyObject* value = reinterpret_cast<Ready*>(self)->value;
    if (value != Py_None) {
        PyRef stop = PyRef::steal(PyObject_CallOneArg(PyExc_StopIteration, value));
        if (stop) PyErr_SetObject(PyExc_StopIteration, stop.get());
    }
    return nullptr;  // no exception set: StopIteration(None)
}

PyObject* ready_send(PyObject* self, PyObject*) {
    if (PyObject* none = ready_next(self); none || PyErr_Occurred()) return none;
    PyErr_SetNone(PyExc_StopIteration);
    return nullptr;
}

// throw() into a coroutine that has nothing left to run raises what it is given.
PyObject* ready_throw(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw() takes 1 to 3 arguments");
        return nullptr;
    }
    PyObject* exc = args[0];
    if (PyExceptionInstance_Check(exc))
        PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
    else if (PyExceptionClass_Check(exc))
        PyErr_SetObject(exc, nargs > 1 ? args[1] : nullptr);
    else
        PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
    return nullptr;
}

PyObject* ready_close(PyObject*, PyObject*) { Py_RETURN_NONE; }

// send, throw and close make it a collections.abc.Coroutine, so
// asyncio.create_task(receive()) works as with a coroutine.
PyMethodDef ready_methods[] = {
    {"send", &ready_send, METH_O, nullptr},
    {"throw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&ready_throw)), METH_FASTCALL, nullptr},
    {"close", &ready_close, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(&ready_dealloc)},
    {Py_tp_iter, reinterpret_cast<void*>(&ready_self)},
    {Py_tp_iternext, reinterpret_cast<void*>(&ready_next)},
    {Py_am_await, reinterpret_cast<void*>(&ready_self)},
    {Py_am_send, reinterpret_cast<void*>(&ready_am_send)},
    {Py_tp_methods, ready_methods},
    {0, nullptr},
};

PyType_Spec ready_spec = {"pycnode.Ready", sizeof(Ready), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                          ready_slots};

}  // namespace

PyRef make_ready_type() { return PyRef::steal(PyType_FromSpec(&ready_spec)); }

PyObject* new_ready(PyObject* ready_type, PyObject* value) {
    Ready* ready = PyObject_New(Ready, reinterpret_cast<PyTypeObject*>(ready_type));
    if (!ready) return nullptr;
    ready->value = Py_NewRef(value);
    return reinterpret_cast<PyObject*>(ready);
}

}  // namespace pycnode::python
