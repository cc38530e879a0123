// The few C API calls whose safe form depends on the Python version.
//
// On a free-threaded build another thread may mutate a list or dict while we
// read it, so borrowed references into containers are not safe there: these
// helpers always hand out strong references. 3.13 has APIs for that; on older
// (GIL) versions, taking the reference at once while attached is equivalent.
#pragma once

#include "python/py_ref.hpp"

namespace pycnode::python {

// Brackets code that must see a container in one consistent state. A real
// per-object lock on free-threaded builds; a plain block elsewhere. Nothing
// inside may call back into Python code, which could suspend the section.
#if PY_VERSION_HEX >= 0x030D0000
#define PYCNODE_BEGIN_CRITICAL_SECTION(op) Py_BEGIN_CRITICAL_SECTION(op)
#define PYCNODE_END_CRITICAL_SECTION() Py_END_CRITICAL_SECTION()
#else
#define PYCNODE_BEGIN_CRITICAL_SECTION(op) {
#define PYCNODE_END_CRITICAL_SECTION() }
#endif

// list[index] as a strong reference, or empty (and no exception) when the
// index is past the end: the list may shrink while we walk it.
inline PyRef list_item(PyObject* list, Py_ssize_t index) {
#if PY_VERSION_HEX >= 0x030D0000
    PyObject* item = PyList_GetItemRef(list, index);
    if (!item) PyErr_Clear();  // IndexError: the walk is over
    return PyRef::steal(item);
#else
    return index < PyList_GET_SIZE(list) ? PyRef::borrow(PyList_GET_ITEM(list, index)) : PyRef();
#endif
}

// dict[key] as a strong reference: 1 found, 0 absent, -1 error (set).
inline int dict_item(PyObject* dict, PyObject* key, PyRef& out) {
#if PY_VERSION_HEX >= 0x030D0000
    PyObject* value = nullptr;
    int found = PyDict_GetItemRef(dict, key, &value);
    out = PyRef::steal(value);
    return found;
#else
    PyObject* value = PyDict_GetItemWithError(dict, key);
    out = PyRef::borrow(value);
    if (value) return 1;
    return PyErr_Occurred() ? -1 : 0;
#endif
}

}  // namespace pycnode::python
