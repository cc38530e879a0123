// An owning reference to a Python object: RAII instead of goto cleanup ladders.
//
// PyRef holds exactly one strong reference (or none) and drops it when it goes
// out of scope, so every early return on an error path releases what it must.
// Like any Python object access, creating, copying out of or destroying a
// non-empty PyRef needs an attached thread state.
#pragma once

#include <Python.h>

#include <utility>

namespace pycnode::python {

class PyRef {
public:
    PyRef() = default;

    // Takes over a reference the caller already owns, typically a "new
    // reference" return value of the C API (which may be null on error).
    static PyRef steal(PyObject* obj) { return PyRef(obj); }

    // Adds a reference to a borrowed pointer, so the object outlives its
    // current owner for as long as this PyRef lives.
    static PyRef borrow(PyObject* obj) {
        Py_XINCREF(obj);
        return PyRef(obj);
    }

    PyRef(PyRef&& other) noexcept : obj_(std::exchange(other.obj_, nullptr)) {}
    PyRef& operator=(PyRef&& other) noexcept {
        if (this != &other) reset(std::exchange(other.obj_, nullptr));
        return *this;
    }
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    ~PyRef() { Py_XDECREF(obj_); }

    PyObject* get() const { return obj_; }
    explicit operator bool() const { return obj_ != nullptr; }

    // Hands the reference to the caller (for APIs that steal one).
    [[nodiscard]] PyObject* release() { return std::exchange(obj_, nullptr); }

    // Drops the current reference, then owns `obj` (already a strong one).
    void reset(PyObject* obj = nullptr) {
        PyObject* old = std::exchange(obj_, obj);
        Py_XDECREF(old);
    }

private:
    explicit PyRef(PyObject* obj) : obj_(obj) {}

    PyObject* obj_ = nullptr;
};

}  // namespace pycnode::python
