// `_pycnode`: the built-in extension module through which Python code talks
// back to pycnode: its log, and what the calling thread runs (for crash
// reports). pyrunner imports it; user code need not.
#pragma once

#include <Python.h>

namespace pycnode::python {

// The module's init function, for PyImport_AppendInittab("_pycnode", ...)
// before the interpreter starts. Multi-phase: it returns the definition.
PyObject* init_pycnode_module();

}  // namespace pycnode::python
