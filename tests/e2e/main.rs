//! End-to-end tests: the real `berth` binary on a loopback port, queried by
//! real `dig` and `kdig`, compared with real BIND. One test binary; one file
//! per RFC or per integration.

mod support;

mod bench_smoke;
mod cli;
mod docker;
mod forwarding;
mod http;
mod malformed;
mod oracle;
mod resolvers;
mod rfc;
mod zonefiles;
