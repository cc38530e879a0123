// What a conversion between terms and Python objects reports.
//
// Failures are values with a readable detail, never C++ exceptions: the
// conversions run between Python API calls, where an exception must not
// unwind, and the detail goes back to the Erlang caller as it is.
#pragma once

#include <string>
#include <utility>

namespace pycnode::python {

// Containers nested deeper than this are refused in both directions (the
// outermost term is level 0), so a list that contains itself is an error
// rather than a stack overflow. It matches the term reader's limit.
inline constexpr int max_conversion_depth = 512;

// How terms and Python values map where there is a choice, per generic
// call (its Opts) over the node's defaults (--strings, --nil); docs/terms.md.
// Web requests (ASGI, WSGI) always use the plain mapping.
struct ConversionOptions {
    bool binaries_as_str = false;  // binaries arrive as str (UTF-8, strict) instead of bytes
    bool nil_as_none = false;      // the atom nil is None, and None comes back as nil (Elixir)
};

// The node's defaults for generic calls; set once at start-up, before any
// worker runs, read-only afterwards.
ConversionOptions& call_conversion_defaults();

class ConversionStatus {
public:
    static ConversionStatus success() { return ConversionStatus(); }
    static ConversionStatus failure(std::string detail) { return ConversionStatus(std::move(detail)); }
    // A handle that is not live: the caller gets {error, {bad_handle, _}}.
    static ConversionStatus bad_handle(std::string detail) {
        ConversionStatus status(std::move(detail));
        status.bad_handle_ = true;
        return status;
    }

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const std::string& detail() const { return detail_; }
    bool is_bad_handle() const { return bad_handle_; }

private:
    ConversionStatus() = default;
    explicit ConversionStatus(std::string detail) : ok_(false), detail_(std::move(detail)) {}

    bool ok_ = true;
    bool bad_handle_ = false;
    std::string detail_;
};

}  // namespace pycnode::python
