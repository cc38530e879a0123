#include "pool/request_depth.hpp"

#include "term/term_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace pycnode::pool {
namespace {

using term::DecodeError;
using term::TermReader;

// The name of element `index` of a request tuple, from its shape: element 0
// is the tag, then "Module :: binary()" gives "Module".
std::string_view field_name(std::string_view shape, std::size_t index) {
    if (shape.size() < 2 || shape.front() != '{' || shape.back() != '}') return {};
    shape = shape.substr(1, shape.size() - 2);
    for (std::size_t i = 0; i < index; ++i) {
        std::size_t comma = shape.find(", ");
        if (comma == std::string_view::npos) return {};
        shape.remove_prefix(comma + 2);
    }
    return shape.substr(0, std::min(shape.find(", "), shape.find(" ::")));
}

bool skip_items(TermReader& r, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (r.skip() != DecodeError::Ok) return false;
    return true;
}

// A map key or a kwargs key as text: an atom or a binary, else empty.
std::string key_text(TermReader& r) {
    std::string_view text;
    if (r.read_atom(text) == DecodeError::Ok || r.read_binary(text) == DecodeError::Ok) return std::string(text);
    return {};
}

// The reader at the key of the pair that holds item `item` of the map or
// pair list the reader is at (a list of {Key, Value}, as kwargs may be).
bool to_pair_key(TermReader& r, std::size_t item) {
    std::size_t count = 0;
    if (r.read_map_header(count) == DecodeError::Ok) return skip_items(r, item & ~std::size_t{1});
    std::size_t arity = 0;
    return r.read_list_header(count) == DecodeError::Ok && skip_items(r, item) &&
           r.read_tuple_header(arity) == DecodeError::Ok && arity == 2;
}

// What an Opts map's item at `path` is: "keyword argument K" or "option K".
std::string option_name(TermReader& r, const std::vector<std::size_t>& path) {
    if (path.size() < 2 || !to_pair_key(r, path[1])) return "Opts";
    std::string key = key_text(r);
    if (key != "kwargs" || path.size() < 3) return "option " + key;
    if (!to_pair_key(r, path[2])) return "kwargs";
    return "keyword argument " + key_text(r);
}

std::string where(std::string_view request, std::string_view shape, const std::vector<std::size_t>& path) {
    std::string_view field = path.empty() ? std::string_view{} : field_name(shape, path[0]);
    if (field.empty()) return "request";
    if (field == "Args") return path.size() < 2 ? "Args" : fmt::format("argument {}", path[1] + 1);
    if (field == "Opts") {
        TermReader r(request, max_request_depth);
        std::size_t arity = 0;
        if (r.read_tuple_header(arity) != DecodeError::Ok || !skip_items(r, path[0])) return "Opts";
        return option_name(r, path);
    }
    std::string name(field);
    // "Scope" -> "scope", as the conversion's own errors say.
    name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
    return name;
}

}  // namespace

std::string too_deep_detail(std::string_view request, std::string_view shape, const std::vector<std::size_t>& path) {
    return fmt::format("{}: term nested deeper than {} levels", where(request, shape, path),
                       python::max_conversion_depth);
}

}  // namespace pycnode::pool
