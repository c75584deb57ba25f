//! End-to-end tests: the real `berth` binary on a loopback port, queried by
//! real `dig` and `kdig`, compared with real BIND. One test binary: `rfc/`
//! has a file per RFC with each test named after its section; every other
//! file is named for what it tests.

mod support;

mod bench_smoke;
mod budgets;
mod cli;
mod deploy;
mod docker;
mod etcd;
mod forward_hygiene;
mod forwarding;
mod http;
mod malformed;
mod operator;
mod oracle;
mod resolvers;
mod rfc;
mod rrl;
mod secondaries;
mod serials;
mod serving;
mod tcp_fairness;
mod zone_confinement;
mod zonefiles;
