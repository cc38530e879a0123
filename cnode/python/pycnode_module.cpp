// The `_pycnode` built-in module. It keeps no Python objects of its own (so
// no static PyObject* and no module state to share), declares that it runs
// without the GIL and in isolated sub-interpreters, and uses multi-phase init
// as those declarations require.
#include "python/pycnode_module.hpp"

#include "app/log.hpp"
#include "python/call_routes.hpp"
#include "python/code_generation.hpp"
#include "app/running.hpp"
#include "python/errors.hpp"

#include <cstring>
#include <string>

namespace pycnode::python {
namespace {

constexpr long lowest_level = static_cast<long>(log::Level::Debug);
constexpr long highest_level = static_cast<long>(log::Level::Error);

bool parse_level(PyObject* arg, log::Level& level) {
    long value = PyLong_AsLong(arg);
    if (value == -1 && PyErr_Occurred()) return false;
    if (value < lowest_level || value > highest_level) {
        PyErr_Format(PyExc_ValueError, "log level must be %ld..%ld, not %ld", lowest_level, highest_level, value);
        return false;
    }
    level = static_cast<log::Level>(value);
    return true;
}

// log(level: int, message: str) -> None. A message that cannot be encoded
// as strict UTF-8 is still logged, escaped, rather than lost.
PyObject* module_log(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "log() takes 2 arguments (%zd given)", nargs);
        return nullptr;
    }
    log::Level level;
    if (!parse_level(args[0], level)) return nullptr;
    if (!PyUnicode_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "log() message must be str, not %.100s", Py_TYPE(args[1])->tp_name);
        return nullptr;
    }
    if (!log::enabled(level)) Py_RETURN_NONE;
    std::string message;
    if (!append_utf8_lenient(args[1], message)) return nullptr;
    // Writing to stderr may block: let other threads run meanwhile.
    Py_BEGIN_ALLOW_THREADS
    log::write(level, message);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

// log_level() -> int: the lowest level pycnode writes, so Python's logging
// can skip formatting records that would be dropped anyway.
PyObject* module_log_level(PyObject*, PyObject*) {
    long level = lowest_level;
    while (level < highest_level && !log::enabled(static_cast<log::Level>(level))) ++level;
    return PyLong_FromLong(level);
}

// code_changed() -> None: modules were reloaded; every worker resolves its
// callables again, and sync/async routes are learnt again.
PyObject* module_code_changed(PyObject*, PyObject*) {
    code_generation().fetch_add(1, std::memory_order_acq_rel);
    call_routes().forget_all();
    Py_RETURN_NONE;
}

// running() -> str | None: what the calling thread runs, as a crash report
// names it ("call mod.fn from node a@b"); None outside a request.
PyObject* module_running(PyObject*, PyObject*) {
    const running::Label* label = running::own_label();
    if (!label || label->kind == running::Kind::None) Py_RETURN_NONE;
    FixedLine line;
    running::describe(*label, line);
    std::string_view text = line.view();
    // A cut may fall inside a UTF-8 character.
    return PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
}

// running_label() -> bytes | None: the calling thread's label, kept by a
// request's task while it waits (pyrunner/worker_loop.py).
PyObject* module_running_label(PyObject*, PyObject*) {
    const running::Label* label = running::own_label();
    if (!label) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(reinterpret_cast<const char*>(label), sizeof *label);
}

// enter_request(label: bytes | None) -> None: a step of a waiting
// request's task begins; leave_request() when it ends.
PyObject* module_enter_request(PyObject*, PyObject* arg) {
    running::Label label;
    if (arg != Py_None) {
        if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) != static_cast<Py_ssize_t>(sizeof label)) {
            PyErr_SetString(PyExc_TypeError, "enter_request() takes what running_label() returned");
            return nullptr;
        }
        std::memcpy(&label, PyBytes_AS_STRING(arg), sizeof label);
    }
    running::enter(label);
    Py_RETURN_NONE;
}

PyObject* module_leave_request(PyObject*, PyObject*) {
    running::leave();
    Py_RETURN_NONE;
}

int module_exec(PyObject* module) {
    const struct {
        const char* name;
        log::Level level;
    } levels[] = {{"DEBUG", log::Level::Debug}, {"INFO", log::Level::Info},
                  {"WARNING", log::Level::Warning}, {"ERROR", log::Level::Error}};
    for (const auto& l : levels)
        if (PyModule_AddIntConstant(module, l.name, static_cast<long>(l.level)) < 0) return -1;
    return 0;
}

PyMethodDef module_methods[] = {
    {"log", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&module_log)), METH_FASTCALL,
     "log(level, message)\n--\n\nWrite one line to pycnode's log (levels: DEBUG=0 .. ERROR=3)."},
    {"log_level", &module_log_level, METH_NOARGS,
     "log_level()\n--\n\nThe lowest level pycnode's log writes."},
    {"code_changed", &module_code_changed, METH_NOARGS,
     "code_changed()\n--\n\nModules were reloaded: workers resolve functions again."},
    {"running", &module_running, METH_NOARGS,
     "running()\n--\n\nWhat the calling thread runs, as a crash report names it; None outside a request."},
    {"running_label", &module_running_label, METH_NOARGS,
     "running_label()\n--\n\nThe calling thread's request label (opaque bytes), or None."},
    {"enter_request", &module_enter_request, METH_O,
     "enter_request(label)\n--\n\nThe calling thread runs the request of `label` until leave_request()."},
    {"leave_request", &module_leave_request, METH_NOARGS,
     "leave_request()\n--\n\nThe calling thread goes back to what it ran before enter_request()."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, reinterpret_cast<void*>(&module_exec)},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_pycnode",
    "pycnode's built-in module: the bridge from Python code to the C-node.",
    0,  // no module state: the module holds no objects
    module_methods,
    module_slots,
    nullptr,
    nullptr,
    nullptr,
};

}  // namespace

PyObject* init_pycnode_module() { return PyModuleDef_Init(&module_def); }

}  // namespace pycnode::python
