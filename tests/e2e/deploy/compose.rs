//! `docker-compose up` of deploy/compose.yaml: berth and the example
//! service, under a project name of this test's own.

use std::process::{Command, Output};

use super::{berth_image, deploy_dir, docker_socket, eventually_resolves, published};
use crate::support::docker::{Image, docker, must, require_docker};
use crate::support::{image, require};

/// One compose project; `down` removes its containers and network.
struct Project {
    name: String,
    env: Vec<(&'static str, String)>,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Output {
        let file = deploy_dir().join("compose.yaml");
        Command::new("docker-compose")
            .arg("--file")
            .arg(&file)
            .args(["--project-name", &self.name])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .output()
            .expect("run docker-compose")
    }

    fn must(&self, args: &[&str]) -> String {
        let output = self.compose(args);
        assert!(
            output.status.success(),
            "docker-compose {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "--volumes", "--remove-orphans", "--timeout", "1"]);
    }
}

/// The test image with a command of its own, which the example service
/// runs as it is (compose.yaml gives it none).
fn service_image(name: &str) -> Image {
    let dir = tempfile::tempdir().expect("temp dir");
    let tar = image::rootfs_tar(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let tar = tar.to_string_lossy();
    must(&[
        "import",
        "--change",
        r#"CMD ["/bin/sleep", "infinity"]"#,
        &tar,
        name,
    ]);
    Image {
        name: name.to_string(),
    }
}

#[test]
fn compose_up_serves_the_example_service() {
    if !require_docker() || !require("docker-compose") {
        return;
    }
    let berth = berth_image();
    let pid = std::process::id();
    let web_image = service_image(&format!("berth-e2e-{pid}-web:latest"));
    let (_, gid) = docker_socket();
    let project = Project {
        name: format!("e2e{pid}-compose"),
        env: vec![
            ("BERTH_IMAGE", berth.name.clone()),
            ("WEB_IMAGE", web_image.name.clone()),
            ("DOCKER_GID", gid),
            ("BERTH_DNS_PUBLISH", "127.0.0.1:".into()),
            ("BERTH_HTTP_PUBLISH", "127.0.0.1:".into()),
        ],
    };
    project.must(&["up", "--detach"]);
    let server = published(&project.must(&["port", "--protocol", "udp", "berth", "53"]));
    let logs = || {
        let output = project.compose(&["logs", "--no-color", "berth"]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };

    let web = project.must(&["ps", "--quiet", "web"]);
    let ip = must(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &web,
    ]);
    let service = format!("web.{}.apps.local", project.name);
    eventually_resolves(server, &service, &ip, logs);
    // berth.names in compose.yaml
    eventually_resolves(server, "www.apps.local", &ip, logs);

    // berth.enable=false keeps berth itself out of the zone.
    let own = must(&[
        "inspect",
        "-f",
        "{{.Name}}",
        &project.must(&["ps", "--quiet", "berth"]),
    ]);
    let own = own.trim_start_matches('/').replace('_', "-");
    let answer = crate::support::dig::dig(server, &[&format!("{own}.apps.local"), "A"]);
    assert_eq!(answer.status, "NXDOMAIN", "{own}: {}", answer.raw);
    drop(project);
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project=e2e{pid}-compose"),
    ]);
    assert_eq!(left.as_deref(), Ok(""), "compose down left containers");
}
