//! The deployment assets of `deploy/`: the rate card of the kustomize base loads, and so does the
//! ConfigMap each rendered overlay holds; every manifest runs the image of this version, never
//! `:latest`; and every flag and `HOURGLASS_…` variable the rendered manifests pass is one the binary
//! knows. `.ci/deploy-check` checks the rest offline: that `deploy/hourglass-<overlay>.yaml` is the
//! overlay of `deploy/kustomize/` rendered, and that every object is valid Kubernetes.

use std::process::Command;

use hourglass_e2e::hourglass_binary;

/// The rate card of the base, from which kustomize generates the ConfigMap `hourglass-rate-card`.
const BASE_RATE_CARD: &str = include_str!("../../deploy/kustomize/base/rate-card.toml");
/// The overlays rendered: what `kubectl apply -f` installs.
const RENDERED: [(&str, &str); 2] = [
    (
        "deploy/hourglass-sled.yaml",
        include_str!("../../deploy/hourglass-sled.yaml"),
    ),
    (
        "deploy/hourglass-redis.yaml",
        include_str!("../../deploy/hourglass-redis.yaml"),
    ),
];
/// Every file of `deploy/` that names the image.
const IMAGE_USERS: [(&str, &str); 5] = [
    RENDERED[0],
    RENDERED[1],
    (
        "deploy/kustomize/sled/statefulset.yaml",
        include_str!("../../deploy/kustomize/sled/statefulset.yaml"),
    ),
    (
        "deploy/kustomize/redis/deployment.yaml",
        include_str!("../../deploy/kustomize/redis/deployment.yaml"),
    ),
    ("deploy/Dockerfile", include_str!("../../deploy/Dockerfile")),
];

/// Returns the block scalar `key: |` of a YAML text, without its indentation.
fn block_scalar(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines().skip_while(|line| line.trim() != format!("{key}: |"));
    let header = lines.next().unwrap_or_else(|| panic!("no `{key}: |` block"));
    let key_indent = header.len() - header.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|line| line.trim().is_empty() || line.len() - line.trim_start().len() > key_indent)
        .collect();
    let indent = body
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|line| line.get(indent..).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads a rate card from its text and checks that it prices India.
fn assert_loads(what: &str, card: &str) {
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), card).expect("write the rate card");
    let rate_card = hourglass_server::rate_card::load(Some(file.path()))
        .unwrap_or_else(|error| panic!("the rate card of {what} does not load: {error}"));
    let customer_id = hourglass_core::CustomerId::new("919800000001").expect("a valid number");
    assert_eq!(rate_card.market_of(&customer_id), "India", "{what}");
}

#[test]
fn the_example_config_map_holds_a_valid_rate_card() {
    assert_loads("deploy/kustomize/base/rate-card.toml", BASE_RATE_CARD);
    for (path, text) in RENDERED {
        let card = block_scalar(text, "rate-card.toml");
        assert_loads(path, &card);
        assert_eq!(
            card.trim_end(),
            BASE_RATE_CARD.trim_end(),
            "{path} holds another card than the base"
        );
    }
}

#[test]
fn the_examples_run_this_version_of_the_image() {
    let image = format!("hourglass:{}", env!("CARGO_PKG_VERSION"));
    for (path, text) in IMAGE_USERS {
        assert!(!text.contains(":latest"), "{path} names a :latest image");
        assert!(text.contains(&image), "{path} does not name {image}");
    }
}

/// The lines of a YAML text that are not comments.
fn uncommented(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|line| !line.starts_with('#'))
}

#[test]
fn the_rendered_manifests_pass_only_flags_the_binary_has() {
    for (path, text) in RENDERED {
        // The container's args, as kustomize renders them: one `- --flag=value` a line.
        let args: Vec<&str> = uncommented(text)
            .filter_map(|line| line.strip_prefix("- "))
            .filter(|arg| arg.starts_with("--"))
            .collect();
        assert!(args.len() >= 3, "{path}: no container args found");
        assert!(
            args.contains(&"--metrics-listen=0.0.0.0:9090"),
            "{path} serves no metrics"
        );
        let parsed = hourglass_server::Config::try_parse_from(
            std::iter::once("hourglass").chain(args.iter().copied()),
        );
        if let Err(error) = parsed {
            panic!("{path} passes args the binary refuses: {error}");
        }
    }
}

#[test]
fn the_rendered_manifests_set_only_variables_the_binary_reads() {
    let help = Command::new(hourglass_binary())
        .arg("--help")
        .output()
        .expect("run hourglass --help");
    let help = String::from_utf8(help.stdout).expect("help is UTF-8");
    for (path, text) in RENDERED {
        let variables: Vec<&str> = uncommented(text)
            .filter_map(|line| {
                line.strip_prefix("- name: ")
                    .or_else(|| line.strip_prefix("name: "))
            })
            .filter(|name| name.starts_with("HOURGLASS_"))
            .collect();
        assert!(!variables.is_empty(), "{path}: no HOURGLASS_ variable found");
        for variable in variables {
            assert!(
                help.contains(&format!("[env: {variable}")),
                "{path} sets {variable}, which the binary does not read"
            );
        }
    }
}
