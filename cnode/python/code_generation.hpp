// The node's code generation: bumped when Python code is reloaded at run
// time (pyrunner.code.reload calls _pycnode.code_changed()). Each worker
// compares it with the generation its callable cache was filled in, one
// relaxed load per lookup, and starts its cache afresh when it moved on, so
// the next call finds the reloaded function, not the one cached before.
#pragma once

#include <atomic>
#include <cstdint>

namespace pycnode::python {

inline std::atomic<std::uint64_t>& code_generation() {
    static std::atomic<std::uint64_t> generation{0};
    return generation;
}

}  // namespace pycnode::python
