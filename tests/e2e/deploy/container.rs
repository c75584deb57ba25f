//! `docker run` of berth's own image, as the README shows it: the socket
//! mounted read-only, its group added, DNS published on loopback.

use super::{berth_image, docker_socket, eventually_resolves, published};
use crate::support::docker::{Scope, docker, must, require_docker};

#[test]
fn image_names_a_container_through_its_published_port() {
    if !require_docker() {
        return;
    }
    let image = berth_image();
    let scope = Scope::new("image");
    let (socket, gid) = docker_socket();
    let berth = scope.name("berth");
    let mount = format!("{socket}:/var/run/docker.sock:ro");
    let options = [
        "-v",
        &mount,
        "--group-add",
        &gid,
        "-p",
        "127.0.0.1::53/udp",
        "-p",
        "127.0.0.1::8053/tcp",
    ];
    scope
        .run_image(&berth, &options, &image.name, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    let logs = || docker(&["logs", &berth]).unwrap_or_else(|e| e);
    let server = published(&must(&["port", &berth, "53/udp"]));

    let web = scope.name("web");
    scope.run(&web, &[]);
    let ip = scope.ip(&web, "bridge");
    eventually_resolves(server, &format!("{web}.apps.local"), &ip, logs);

    // Not root: the user the image names, reaching the socket by group.
    let pid = must(&["inspect", "-f", "{{.State.Pid}}", &berth]);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let uids = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .expect("Uid line");
    assert!(
        uids.split_whitespace().all(|uid| uid == "10053"),
        "berth runs as {uids}"
    );

    let size: u64 = must(&["image", "inspect", "-f", "{{.Size}}", &image.name])
        .parse()
        .expect("image size");
    eprintln!("berth image: {size} bytes");
}
