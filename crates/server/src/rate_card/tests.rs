//! Tests of rate card files and the shipped default card.

use std::str::FromStr;

use hourglass_core::{Category, CustomerId, Instant, Money, RateCard};
use rust_decimal::Decimal;

use super::*;

/// 2023-06-01T00:00:00Z.
const JUNE_2023: Instant = Instant::from_millis(1_685_577_600_000);

fn default_card() -> RateCard {
    load(None).expect("the shipped card is valid")
}

fn customer(digits: &str) -> CustomerId {
    CustomerId::new(digits).expect("test customer ids are valid")
}

#[track_caller]
fn check_price(card: &RateCard, customer_id: &str, category: Category, expected: &str) {
    let price: Money = card.rates_for(&customer(customer_id), JUNE_2023).price(category);
    assert_eq!(price.to_string(), expected, "{customer_id} {category:?}");
}

#[track_caller]
fn check_error(text: &str, expected_fragment: &str) {
    let error = parse(text, "test.toml")
        .expect_err("the card is invalid")
        .to_string();
    assert!(
        error.contains(expected_fragment),
        "{error:?} does not mention {expected_fragment:?}"
    );
    assert!(error.contains("test.toml"), "{error:?} does not name the file");
}

const ROW: &str = r#"
[[rates]]
market = "Other"
currency = "USD"
effective_from = 2023-06-01T00:00:00Z
marketing = "0.0604"
utility = "0.0338"
authentication = "0.0304"
service = "0.0145"
"#;

#[test]
fn default_card_prices_india_in_rupees_exactly() {
    let card = default_card();
    let price = card
        .rates_for(&customer("+919800000001"), JUNE_2023)
        .price(Category::Marketing);
    assert_eq!(price.currency.as_str(), "INR");
    assert_eq!(price.amount, Decimal::from_str("0.8147").unwrap());
    assert_eq!(price.units_and_nanos(), (0, 814_700_000));
    check_price(&card, "919800000001", Category::Utility, "0.3456 INR");
    check_price(&card, "919800000001", Category::Authentication, "0.3456 INR");
    check_price(&card, "919800000001", Category::Service, "0.3292 INR");
}

#[test]
fn default_card_finds_markets_by_longest_prefix() {
    let card = default_card();
    assert_eq!(card.market_of(&customer("18095550100")), "Rest of Latin America");
    check_price(&card, "18095550100", Category::Marketing, "0.074 USD");
    for digits in [
        "18295550100",
        "18495550100",
        "16585550100",
        "18765550100",
        "17875550100",
        "19395550100",
    ] {
        assert_eq!(
            card.market_of(&customer(digits)),
            "Rest of Latin America",
            "{digits}"
        );
    }
    assert_eq!(card.market_of(&customer("14155550100")), "North America");
    check_price(&card, "14155550100", Category::Service, "0.0088 USD");
    check_price(&card, "5511999990000", Category::Marketing, "0.0625 USD");
    check_price(&card, "6281234567890", Category::Authentication, "0.03 USD");
    check_price(&card, "4915112345678", Category::Utility, "0.0853 USD");
    assert_eq!(card.market_of(&customer("447700900123")), "Other");
    check_price(&card, "447700900123", Category::Marketing, "0.0604 USD");
}

#[test]
fn default_card_rows_take_effect_on_june_first_2023() {
    assert!(default_card().rows().all(|row| row.effective_from == JUNE_2023));
    assert_eq!(default_card().rows().count(), 7);
}

#[test]
fn loads_an_operator_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("card.toml");
    std::fs::write(&path, ROW).unwrap();
    let card = load(Some(&path)).unwrap();
    assert_eq!(card.market_of(&customer("919800000001")), "Other");
    check_price(&card, "919800000001", Category::Marketing, "0.0604 USD");

    let missing = directory.path().join("missing.toml");
    let error = load(Some(&missing)).unwrap_err().to_string();
    assert!(
        error.starts_with("cannot read rate card") && error.contains("missing.toml"),
        "{error}"
    );
}

#[test]
fn rejects_invalid_cards_naming_the_problem() {
    check_error(&ROW.replace("\"0.0604\"", "0.0604"), "marketing");
    check_error(
        &ROW.replace("\"0.0338\"", "\"0.03.38\""),
        "`utility` must be a decimal string",
    );
    check_error(
        &ROW.replace("\"0.0304\"", "\"0.0000000001\""),
        "`authentication` has more than 9 decimal places",
    );
    check_error(
        &ROW.replace("\"0.0145\"", "\"-0.0145\""),
        "`service` must not be negative",
    );
    check_error(
        &ROW.replace("USD", "usd"),
        "`currency` must be three capital letters",
    );
    check_error(
        &ROW.replace("2023-06-01T00:00:00Z", "2023-06-01"),
        "`effective_from` must be a date, time and offset",
    );
    check_error(
        &ROW.replace("market = \"Other\"", "market = \"India\"\nprefixes = [\"91\"]"),
        "needs a row for the market `Other`",
    );
    check_error(&ROW.replace("service = ", "servic = "), "servic");
    check_error("rates = 3", "test.toml");
}

/// Runs `load` on a thread of its own and returns its result, or `None` if it blocks for 5 s.
fn load_within_5_s(path: &Path) -> Option<Result<RateCard, Error>> {
    let path = path.to_owned();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(load(Some(&path)));
    });
    receiver.recv_timeout(std::time::Duration::from_secs(5)).ok()
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("card.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let result = load_within_5_s(&fifo).expect("loading a FIFO does not block");
    assert!(matches!(result, Err(Error::NotAFile { .. })), "{result:?}");
}

#[test]
fn a_directory_or_an_oversized_file_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let result = load_within_5_s(directory.path()).expect("loading a directory does not block");
    assert!(matches!(result, Err(Error::NotAFile { .. })), "{result:?}");

    let big = directory.path().join("big.toml");
    let mut text = DEFAULT_RATE_CARD.to_owned();
    text.push_str(&"# padding\n".repeat(usize::try_from(MAX_RATE_CARD_BYTES).unwrap() / 10));
    std::fs::write(&big, &text).unwrap();
    let result = load_within_5_s(&big).expect("loading a big file ends");
    assert!(matches!(result, Err(Error::TooLarge { .. })), "{result:?}");

    let card = directory.path().join("card.toml");
    std::fs::write(&card, DEFAULT_RATE_CARD).unwrap();
    assert!(matches!(load_within_5_s(&card), Some(Ok(_))));
}
