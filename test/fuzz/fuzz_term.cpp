// libFuzzer target for everything that reads peer bytes without sockets:
// the term decoder (read_term and skip), the packet parser and the gen_call
// parser. Besides "never crash", it checks that read_term and skip agree and
// that whatever decodes re-encodes to a term that decodes to the same tree.
//
//   make fuzz (scripts/fuzz.sh builds it with clang-14, ASan and UBSan), or by hand:
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Icnode \
//       test/fuzz/fuzz_term.cpp cnode/term/*.cpp cnode/dist/*.cpp cnode/app/log.cpp -lfmt
//   ./a.out -max_total_time=60
#include "../unit/term_testing.hpp"
#include "dist/control.hpp"
#include "dist/gen_call.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using pycnode::term::DecodeError;
using pycnode::term::Term;
using pycnode::term::TermReader;

void require(bool condition) {
    if (!condition) std::abort();
}

// The encoder is canonical: encoding the decoded copy gives the same bytes.
void check_round_trip(const Term& t) {
    std::string encoded = term_testing::encode(t);
    Term back;
    require(term_testing::decode(encoded, back) == DecodeError::Ok);
    require(term_testing::same_term(t, back));
    require(term_testing::encode(back) == encoded);
}

void check_term(std::string_view bytes, std::size_t max_depth) {
    TermReader tree_reader(bytes, max_depth), skip_reader(bytes, max_depth);
    Term t;
    std::string_view raw;
    DecodeError tree_err = tree_reader.read_term(t);
    DecodeError skip_err = skip_reader.skip(raw);
    require(tree_err == skip_err);
    require(tree_reader.position() == skip_reader.position());
    if (tree_err != DecodeError::Ok) {
        require(tree_reader.position() == 0);
        return;
    }
    require(raw.size() == tree_reader.position());
    check_round_trip(t);
}

void check_packet(std::string_view bytes) {
    pycnode::dist::ControlMessage control;
    if (pycnode::dist::parse_packet(bytes, control) != DecodeError::Ok || !control.has_message) return;
    require(control.message_offset < bytes.size());
    pycnode::dist::GenCall call;
    if (pycnode::dist::parse_gen_call(bytes, control.message_offset, call) != DecodeError::Ok) return;
    require(call.request_offset + call.request_size == bytes.size());
    // A reply built from what was parsed must itself parse.
    std::string reply;
    pycnode::dist::append_reply(reply, call.from_pid, call.tag, Term::make_atom("ok"));
    require(pycnode::dist::parse_packet(std::string_view(reply).substr(4), control) == DecodeError::Ok);
    require(control.to == call.from_pid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    check_term(bytes, TermReader::default_max_depth);
    check_term(bytes, 4);
    check_packet(bytes);
    // The same bytes framed as a packet, so the fuzzer need not find 'p' and 131 first.
    check_packet("p\x83" + std::string(bytes));
    return 0;
}
