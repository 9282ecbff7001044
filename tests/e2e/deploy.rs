//! The deployment examples of `deploy/`: the rate card of the example ConfigMap loads, and every
//! manifest runs the image of this version, never `:latest`.

const RATE_CARD_CONFIG_MAP: &str = include_str!("../../deploy/hourglass-rate-card.yaml");
/// Every file of `deploy/` that names the image.
const IMAGE_USERS: [(&str, &str); 3] = [
    (
        "deploy/hourglass-sled.yaml",
        include_str!("../../deploy/hourglass-sled.yaml"),
    ),
    (
        "deploy/hourglass-redis.yaml",
        include_str!("../../deploy/hourglass-redis.yaml"),
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

#[test]
fn the_example_config_map_holds_a_valid_rate_card() {
    let card = block_scalar(RATE_CARD_CONFIG_MAP, "rate-card.toml");
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), card).expect("write the rate card");
    let rate_card = hourglass_server::rate_card::load(Some(file.path())).expect("the example card loads");
    let customer_id = hourglass_core::CustomerId::new("919800000001").expect("a valid number");
    assert_eq!(rate_card.market_of(&customer_id), "India");
}

#[test]
fn the_examples_run_this_version_of_the_image() {
    let image = format!("hourglass:{}", env!("CARGO_PKG_VERSION"));
    for (path, text) in IMAGE_USERS {
        assert!(!text.contains(":latest"), "{path} names a :latest image");
        assert!(text.contains(&image), "{path} does not name {image}");
    }
}
