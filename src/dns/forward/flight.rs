//! Queries on their way upstream, one per question. A second client asking
//! the same question while the first is out waits for that answer instead
//! of sending another query; that also bounds forwarding loops. When an
//! upstream (or a resolver behind it) sends berth's own query back — say a
//! dnsmasq that routes in-addr.arpa to berth is also berth's upstream — the
//! looped query joins the flight it came from, so no second query goes out,
//! and the loop ends when the upstream times out.
//!
//! Most such loops are caught at once: each forwarded question gets letters
//! in a random case (DNS names compare without case, RFC 4343), and a query
//! that arrives in exactly that case is berth's own coming back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::cache::{Key, KeyRef};
use super::stored::Stored;

/// What a flight ends with: the answer, or `None` for SERVFAIL.
type Outcome = Option<Arc<Stored>>;

struct Flight {
    /// The question as it was sent upstream, case included.
    sent: Box<[u8]>,
    done: watch::Receiver<Option<Outcome>>,
}

#[derive(Default)]
pub struct Flights {
    flying: Mutex<HashMap<Key, Arc<Flight>>>,
}

/// How a query joins the flights.
pub enum Join {
    /// No query for this question is out: this one goes upstream.
    Lead(Leader),
    /// One is out: wait for its answer.
    Follow(Follower),
    /// This is berth's own forwarded query, back again.
    Loop,
}

impl Flights {
    /// Joins the flight for `key`, or starts one whose query will carry
    /// `question` with its case marked.
    pub fn join(self: &Arc<Self>, key: KeyRef<'_>, question: &[u8]) -> Join {
        let key = key.to_owned();
        let mut flying = self.flying.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = flying.get(&key) {
            if *flight.sent == *question && has_letters(question) {
                return Join::Loop;
            }
            return Join::Follow(Follower {
                done: flight.done.clone(),
            });
        }
        let sent: Box<[u8]> = mark_case(question).into();
        let (tell, done) = watch::channel(None);
        let flight = Arc::new(Flight {
            sent: sent.clone(),
            done,
        });
        flying.insert(key.clone(), flight.clone());
        Join::Lead(Leader {
            flights: self.clone(),
            key,
            flight,
            tell,
        })
    }
}

/// The query that goes upstream for everyone waiting on it. Dropping it
/// ends the flight; followers not yet told get SERVFAIL.
pub struct Leader {
    flights: Arc<Flights>,
    key: Key,
    flight: Arc<Flight>,
    tell: watch::Sender<Option<Outcome>>,
}

impl Leader {
    /// The question to send upstream, in its marked case.
    pub fn question(&self) -> &[u8] {
        &self.flight.sent
    }

    /// Tells every follower how it ended.
    pub fn land(self, outcome: Outcome) {
        self.tell.send_replace(Some(outcome));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut flying = self
            .flights
            .flying
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if flying
            .get(&self.key)
            .is_some_and(|flight| Arc::ptr_eq(flight, &self.flight))
        {
            flying.remove(&self.key);
        }
    }
}

pub struct Follower {
    done: watch::Receiver<Option<Outcome>>,
}

impl Follower {
    /// The leader's answer; `None` when it failed or went away.
    pub async fn wait(mut self) -> Outcome {
        match self.done.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().flatten(),
            Err(_) => None,
        }
    }
}

/// The question with the letters of its name in a random case, never the
/// case it came in (when it has letters), so the copy can be recognised.
fn mark_case(question: &[u8]) -> Vec<u8> {
    let mut marked = question.to_vec();
    // The last four bytes are type and class; label lengths are below 64,
    // so never letters.
    let name_len = marked.len().saturating_sub(4);
    let mut bits = 0u64;
    for (i, byte) in marked[..name_len].iter_mut().enumerate() {
        if i % 64 == 0 {
            bits = rand::random();
        }
        if byte.is_ascii_alphabetic() && bits & (1 << (i % 64)) != 0 {
            *byte ^= 0x20;
        }
    }
    if marked == question
        && let Some(letter) = marked[..name_len]
            .iter_mut()
            .find(|b| b.is_ascii_alphabetic())
    {
        *letter ^= 0x20;
    }
    marked
}

fn has_letters(question: &[u8]) -> bool {
    let name_len = question.len().saturating_sub(4);
    question[..name_len].iter().any(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUESTION: &[u8] = b"\x011\x0210\x07in-addr\x04arpa\x00\x00\x0c\x00\x01";

    #[test]
    fn marked_case_differs_only_in_case() {
        for _ in 0..100 {
            let marked = mark_case(QUESTION);
            assert_ne!(marked, QUESTION);
            assert!(marked.eq_ignore_ascii_case(QUESTION));
            assert_eq!(marked[marked.len() - 4..], QUESTION[QUESTION.len() - 4..]);
        }
    }

    #[tokio::test]
    async fn one_query_goes_upstream_and_the_others_wait_for_it() {
        use crate::dns::forward::stored::tests::{answer, query};
        use crate::dns::wire::parse_query;
        use crate::iana::Rcode;

        let flights = Arc::new(Flights::default());
        let first = query(1, b"\x03www\x07example\x00", false);
        let first = parse_query(&first).unwrap();
        let Join::Lead(leader) = flights.join(KeyRef::of(&first), first.question) else {
            panic!("the first query leads");
        };
        let sent = leader.question().to_vec();
        assert!(sent.eq_ignore_ascii_case(first.question));

        // Another client, same question: it waits.
        let second = query(2, b"\x03WWW\x07example\x00", false);
        let second = parse_query(&second).unwrap();
        let Join::Follow(follower) = flights.join(KeyRef::of(&second), second.question) else {
            panic!("the same question follows");
        };
        // The leader's own query, come back: a loop.
        assert!(matches!(
            flights.join(KeyRef::of(&second), &sent),
            Join::Loop
        ));

        let upstream = answer(Rcode::NOERROR, &[], false);
        let stored = Arc::new(Stored::parse(&upstream).unwrap());
        leader.land(Some(stored.clone()));
        let got = follower.wait().await.expect("the leader's answer");
        assert!(Arc::ptr_eq(&got, &stored));

        // The flight is over: the next query leads again; if its leader
        // goes away unanswered, its followers get SERVFAIL (None).
        let Join::Lead(leader) = flights.join(KeyRef::of(&first), first.question) else {
            panic!("a new flight");
        };
        let Join::Follow(follower) = flights.join(KeyRef::of(&second), second.question) else {
            panic!("follows");
        };
        drop(leader);
        assert!(follower.wait().await.is_none());
    }
}
