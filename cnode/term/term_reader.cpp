// TermReader: the public cursor over the decoding engine (term_decoder.hpp).
#include "term/term_reader.hpp"

#include "term/term_decoder.hpp"

#include <algorithm>

namespace pycnode::term {
namespace {

using detail::Decoder;
using detail::Ok;
using detail::Truncated;
using detail::BadValue;
using detail::WrongType;

// Runs `decode` on a copy of the position and commits it only on success:
// that is what leaves a TermReader's position unchanged on error.
template <class Decode>
DecodeError run(std::string_view data, std::size_t& pos, std::size_t max_depth, Decode&& decode) {
    Decoder d(data, pos, max_depth);
    DecodeError err = decode(d);
    if (err == Ok) pos = d.pos;
    return err;
}

}  // namespace

const char* describe(DecodeError e) {
    switch (e) {
    case DecodeError::Ok: return "ok";
    case DecodeError::Truncated: return "truncated term";
    case DecodeError::BadVersion: return "bad version byte";
    case DecodeError::UnknownTag: return "unknown or unsupported term tag";
    case DecodeError::BadValue: return "malformed term value";
    case DecodeError::TooDeep: return "term nested too deeply";
    case DecodeError::WrongType: return "unexpected term type";
    }
    return "unknown decode error";
}

DecodeError TermReader::read_version() {
    if (at_end()) return Truncated;
    if (peek_tag() != tag::version) return DecodeError::BadVersion;
    ++pos_;
    return Ok;
}

DecodeError TermReader::read_tuple_header(std::size_t& arity) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.tuple_header(arity); });
}

DecodeError TermReader::read_list_header(std::size_t& length) {
    if (peek_tag() != tag::nil)
        return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.list_header(length); });
    length = 0;
    ++pos_;
    return Ok;
}

DecodeError TermReader::read_map_header(std::size_t& pairs) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.map_header(pairs); });
}

DecodeError TermReader::read_atom(std::string_view& name) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.atom(name); });
}

DecodeError TermReader::read_binary(std::string_view& bytes) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) { return d.binary(bytes); });
}

// Only values that fit int64: a BigInteger is another type for this read.
DecodeError TermReader::read_integer(std::int64_t& value) {
    return run(data_, pos_, max_depth_, [&](Decoder& d) {
        Term t;
        DecodeError err = d.integer(&t);
        if (err != Ok) return err;
        if (t.kind != Kind::Integer) return WrongType;
        value = t.integer;
        return Ok;
    });
}

DecodeError TermReader::skip(std::string_view& raw) {
    std::size_t start = pos_;
    DecodeError err = run(data_, pos_, max_depth_, [](Decoder& d) { return d.term(nullptr, 0); });
    if (err == Ok) raw = data_.substr(start, pos_ - start);
    return err;
}

DecodeError TermReader::read_term(Term& out) {
    out = Term{};
    if (too_deep_path_) too_deep_path_->clear();
    DecodeError err = run(data_, pos_, max_depth_, [&](Decoder& d) {
        d.too_deep_path = too_deep_path_;
        return d.term(&out, 0);
    });
    if (err == DecodeError::TooDeep && too_deep_path_) std::reverse(too_deep_path_->begin(), too_deep_path_->end());
    return err;
}

}  // namespace pycnode::term
