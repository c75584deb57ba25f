//! Simulated hosts for `bench/run --parts hosts`: writes HOSTS × CONTAINERS
//! names into etcd in the SkyDNS schema, each host under a lease of its own
//! as berth writes them (`/skydns/local/apps/c<j>-h<h>/host<h>`, value
//! `{"host":"10.<h>.<j/256>.<j%256>","ttl":5}`), then churns: for SECONDS,
//! CHURN times a second a random container stops (its key deleted) and
//! starts again (put back); then revokes the leases, which removes every
//! key it wrote, and exits. Not a test.
//!
//! ```text
//! cargo run --release --example etcd-hosts -- ENDPOINT HOSTS CONTAINERS CHURN SECONDS
//! ```
//!
//! Prints `loaded N keys` once every key is in, and `churned N` at the end.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use etcd_client::{Client, PutOptions, Txn, TxnOp};

/// Operations per transaction, under etcd's default limit of 128.
const BATCH: usize = 100;

fn key(host: usize, container: usize) -> String {
    format!("/skydns/local/apps/c{container}-h{host}/host{host}")
}

fn value(host: usize, container: usize) -> String {
    format!(
        r#"{{"host":"10.{}.{}.{}","ttl":5}}"#,
        host % 256,
        container / 256,
        container % 256
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    let (Some(endpoint), Some(hosts), Some(containers), Some(churn), Some(seconds)) = (
        args.first().cloned(),
        number(1),
        number(2),
        number(3),
        number(4),
    ) else {
        eprintln!("usage: etcd-hosts ENDPOINT HOSTS CONTAINERS CHURN SECONDS");
        return ExitCode::from(64);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("etcd-hosts: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&endpoint, hosts, containers, churn, seconds)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("etcd-hosts: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    endpoint: &str,
    hosts: usize,
    containers: usize,
    churn: usize,
    seconds: usize,
) -> Result<(), etcd_client::Error> {
    let mut client = Client::connect([endpoint], None).await?;
    let mut leases = Vec::with_capacity(hosts);
    for host in 0..hosts {
        // Long enough to outlast the run: the hosts do not keep them alive.
        let lease = client.lease_grant(3600, None).await?.id();
        leases.push(lease);
        let operations: Vec<TxnOp> = (0..containers)
            .map(|c| {
                let put = PutOptions::new().with_lease(lease);
                TxnOp::put(key(host, c), value(host, c), Some(put))
            })
            .collect();
        for batch in operations.chunks(BATCH) {
            client.txn(Txn::new().and_then(batch.to_vec())).await?;
        }
    }
    println!("loaded {} keys", hosts * containers);

    // xorshift: the churn needs spread, not quality.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let start = Instant::now();
    let until = Duration::from_secs(seconds as u64);
    let mut churned = 0;
    if churn == 0 {
        tokio::time::sleep(until).await;
    } else {
        let mut tick = tokio::time::interval(Duration::from_secs(1) / churn as u32);
        while start.elapsed() < until {
            tick.tick().await;
            let (host, container) = (next(hosts), next(containers));
            client.delete(key(host, container), None).await?;
            let put = PutOptions::new().with_lease(leases[host]);
            client
                .put(key(host, container), value(host, container), Some(put))
                .await?;
            churned += 1;
        }
    }
    println!("churned {churned}");
    for lease in leases {
        client.lease_revoke(lease).await?;
    }
    Ok(())
}
