// References and the pid pycnode makes (dist/node_terms.hpp), and the
// MONITOR_P it sends for a handle's owner.
#include "dist/control.hpp"
#include "dist/node_terms.hpp"

#include <doctest/doctest.h>

using namespace pycnode::dist;

namespace {

const NodeIdentity node{"pycnode@host", 7};

}  // namespace

TEST_CASE("a reference of ours reads back to its id; others do not") {
    std::string ref = encode_reference(node, 0x155, 0x1234567890ULL);
    std::uint64_t id = 0;
    CHECK(parse_reference(ref, node, 0x155, id));
    CHECK(id == 0x1234567890ULL);
    CHECK_FALSE(parse_reference(ref, node, 0x156, id));                      // another store's salt
    CHECK_FALSE(parse_reference(ref, NodeIdentity{"pycnode@host", 8}, 0x155, id));  // an earlier run
    CHECK_FALSE(parse_reference(ref, NodeIdentity{"other@host", 7}, 0x155, id));
    CHECK_FALSE(parse_reference(ref.substr(0, ref.size() - 1), node, 0x155, id));
}

TEST_CASE("our pid names our node") {
    std::string pid = encode_pid(node, 1);
    CHECK(pid_node(pid) == "pycnode@host");
    CHECK(pid_node(encode_reference(node, 1, 1)).empty());
    CHECK(pid_node("").empty());
}

TEST_CASE("MONITOR_P from our pid parses as Erlang would read it") {
    std::string pid = encode_pid(node, 1);
    std::string theirs = encode_pid(NodeIdentity{"me@host", 3}, 42);
    std::string ref = encode_reference(node, 9, 5);
    std::string out;
    append_monitor(out, pid, theirs, ref);
    ControlMessage msg;
    REQUIRE(parse_packet(std::string_view(out).substr(4), msg) == pycnode::term::DecodeError::Ok);
    CHECK(msg.op == static_cast<std::int64_t>(Op::MonitorP));
    CHECK(msg.from == pid);
    CHECK(msg.to == theirs);
    CHECK(msg.id == ref);
}
