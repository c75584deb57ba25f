//! RFC 2181, Clarifications to the DNS Specification.

use super::start_with_many;
use crate::support::require;

/// §9: a client that gets TC asks again over TCP and gets the whole RRset
/// (dig retries by itself).
#[test]
fn rfc2181_9_truncated_answer_comes_whole_over_tcp() {
    if !require("dig") {
        return;
    }
    let (berth, _dir) = start_with_many();
    let retried = berth.dig(&["many.apps.local", "A", "+noedns"]);
    assert_eq!(retried.answer.len(), 40);
}
