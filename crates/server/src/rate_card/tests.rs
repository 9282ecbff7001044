//! Tests of rate card files and the shipped default card.

use std::str::FromStr;

use hourglass_core::{Category, Currency, CustomerId, Instant, Money, RateCard};
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
    // Monaco is in no market of Meta's table (the United Kingdom, which this line used before the
    // card had every market, is a market of its own).
    assert_eq!(card.market_of(&customer("37761234567")), "Other");
    check_price(&card, "37761234567", Category::Marketing, "0.0604 USD");
    assert_eq!(card.market_of(&customer("447700900123")), "United Kingdom");
}

#[test]
fn default_card_keeps_the_specified_rows_of_june_first_2023() {
    let card = default_card();
    let june_2023: Vec<_> = card
        .rows()
        .filter(|row| row.effective_from == JUNE_2023)
        .map(|row| {
            format!(
                "{} {} {} {} {} {}",
                row.market, row.currency, row.marketing, row.utility, row.authentication, row.service
            )
        })
        .collect();
    for expected in [
        "India INR 0.8147 0.3456 0.3456 0.3292",
        "Brazil USD 0.0625 0.0350 0.0315 0.0300",
        "Indonesia USD 0.0411 0.0200 0.0300 0.0190",
        "Germany USD 0.1365 0.0853 0.0768 0.0819",
        "North America USD 0.0250 0.0150 0.0135 0.0088",
        "Rest of Latin America USD 0.0740 0.0113 0.0113 0.0407",
        "Other USD 0.0604 0.0338 0.0304 0.0145",
    ] {
        assert!(june_2023.iter().any(|row| row == expected), "{expected}");
    }
    assert_eq!(card.first_effective_from(), JUNE_2023);
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

fn instant(text: &str) -> Instant {
    Instant::from_millis(
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("test instants are RFC 3339")
            .timestamp_millis(),
    )
}

/// 2025-11-01T00:00:00Z: after Zimbabwe's move, before the markets of 2026.
const NOV_2025: &str = "2025-11-01T00:00:00Z";

/// Meta's country table, as the card maps it on 2025-11-01: ISO code and market. A BSUID of the
/// country and a number with the country's calling code (and area code, in +1) land in the market.
const META_COUNTRIES: &[(&str, &str)] = &[
    ("AR", "Argentina"),
    ("BR", "Brazil"),
    ("CL", "Chile"),
    ("CO", "Colombia"),
    ("EG", "Egypt"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("IN", "India"),
    ("ID", "Indonesia"),
    ("IL", "Israel"),
    ("IT", "Italy"),
    ("MY", "Malaysia"),
    ("MX", "Mexico"),
    ("NL", "Netherlands"),
    ("NG", "Nigeria"),
    ("PK", "Pakistan"),
    ("PE", "Peru"),
    ("RU", "Russia"),
    ("SA", "Saudi Arabia"),
    ("ZA", "South Africa"),
    ("ES", "Spain"),
    ("TR", "Turkey"),
    ("AE", "United Arab Emirates"),
    ("GB", "United Kingdom"),
    ("US", "North America"),
    ("CA", "North America"),
    ("DZ", "Rest of Africa"),
    ("AO", "Rest of Africa"),
    ("BJ", "Rest of Africa"),
    ("BW", "Rest of Africa"),
    ("BF", "Rest of Africa"),
    ("BI", "Rest of Africa"),
    ("CM", "Rest of Africa"),
    ("TD", "Rest of Africa"),
    ("CG", "Rest of Africa"),
    ("ER", "Rest of Africa"),
    ("ET", "Rest of Africa"),
    ("GA", "Rest of Africa"),
    ("GM", "Rest of Africa"),
    ("GH", "Rest of Africa"),
    ("GW", "Rest of Africa"),
    ("CI", "Rest of Africa"),
    ("KE", "Rest of Africa"),
    ("LS", "Rest of Africa"),
    ("LR", "Rest of Africa"),
    ("LY", "Rest of Africa"),
    ("MG", "Rest of Africa"),
    ("MW", "Rest of Africa"),
    ("ML", "Rest of Africa"),
    ("MR", "Rest of Africa"),
    ("MA", "Rest of Africa"),
    ("MZ", "Rest of Africa"),
    ("NA", "Rest of Africa"),
    ("NE", "Rest of Africa"),
    ("RW", "Rest of Africa"),
    ("SN", "Rest of Africa"),
    ("SL", "Rest of Africa"),
    ("SO", "Rest of Africa"),
    ("SS", "Rest of Africa"),
    ("SD", "Rest of Africa"),
    ("SZ", "Rest of Africa"),
    ("TZ", "Rest of Africa"),
    ("TG", "Rest of Africa"),
    ("TN", "Rest of Africa"),
    ("UG", "Rest of Africa"),
    ("ZM", "Rest of Africa"),
    ("ZW", "Rest of Africa"),
    ("AF", "Rest of Asia Pacific"),
    ("AU", "Rest of Asia Pacific"),
    ("BD", "Rest of Asia Pacific"),
    ("KH", "Rest of Asia Pacific"),
    ("CN", "Rest of Asia Pacific"),
    ("HK", "Rest of Asia Pacific"),
    ("JP", "Rest of Asia Pacific"),
    ("LA", "Rest of Asia Pacific"),
    ("MN", "Rest of Asia Pacific"),
    ("NP", "Rest of Asia Pacific"),
    ("NZ", "Rest of Asia Pacific"),
    ("PG", "Rest of Asia Pacific"),
    ("PH", "Rest of Asia Pacific"),
    ("SG", "Rest of Asia Pacific"),
    ("LK", "Rest of Asia Pacific"),
    ("TW", "Rest of Asia Pacific"),
    ("TJ", "Rest of Asia Pacific"),
    ("TH", "Rest of Asia Pacific"),
    ("TM", "Rest of Asia Pacific"),
    ("UZ", "Rest of Asia Pacific"),
    ("VN", "Rest of Asia Pacific"),
    ("AL", "Rest of Central & Eastern Europe"),
    ("AM", "Rest of Central & Eastern Europe"),
    ("AZ", "Rest of Central & Eastern Europe"),
    ("BY", "Rest of Central & Eastern Europe"),
    ("BG", "Rest of Central & Eastern Europe"),
    ("HR", "Rest of Central & Eastern Europe"),
    ("CZ", "Rest of Central & Eastern Europe"),
    ("GE", "Rest of Central & Eastern Europe"),
    ("GR", "Rest of Central & Eastern Europe"),
    ("HU", "Rest of Central & Eastern Europe"),
    ("LV", "Rest of Central & Eastern Europe"),
    ("LT", "Rest of Central & Eastern Europe"),
    ("MD", "Rest of Central & Eastern Europe"),
    ("MK", "Rest of Central & Eastern Europe"),
    ("PL", "Rest of Central & Eastern Europe"),
    ("RO", "Rest of Central & Eastern Europe"),
    ("RS", "Rest of Central & Eastern Europe"),
    ("SK", "Rest of Central & Eastern Europe"),
    ("SI", "Rest of Central & Eastern Europe"),
    ("UA", "Rest of Central & Eastern Europe"),
    ("BO", "Rest of Latin America"),
    ("CR", "Rest of Latin America"),
    ("DO", "Rest of Latin America"),
    ("EC", "Rest of Latin America"),
    ("SV", "Rest of Latin America"),
    ("GT", "Rest of Latin America"),
    ("HT", "Rest of Latin America"),
    ("HN", "Rest of Latin America"),
    ("JM", "Rest of Latin America"),
    ("NI", "Rest of Latin America"),
    ("PA", "Rest of Latin America"),
    ("PY", "Rest of Latin America"),
    ("PR", "Rest of Latin America"),
    ("UY", "Rest of Latin America"),
    ("VE", "Rest of Latin America"),
    ("BH", "Rest of Middle East"),
    ("IQ", "Rest of Middle East"),
    ("JO", "Rest of Middle East"),
    ("KW", "Rest of Middle East"),
    ("LB", "Rest of Middle East"),
    ("OM", "Rest of Middle East"),
    ("QA", "Rest of Middle East"),
    ("YE", "Rest of Middle East"),
    ("AT", "Rest of Western Europe"),
    ("BE", "Rest of Western Europe"),
    ("DK", "Rest of Western Europe"),
    ("FI", "Rest of Western Europe"),
    ("IE", "Rest of Western Europe"),
    ("NO", "Rest of Western Europe"),
    ("PT", "Rest of Western Europe"),
    ("SE", "Rest of Western Europe"),
    ("CH", "Rest of Western Europe"),
    // Not in Meta's table.
    ("MC", "Other"),
    ("XK", "Other"),
    ("IR", "Other"),
    ("KR", "Other"),
    ("KZ", "Russia"),
];

#[test]
fn every_country_of_metas_table_maps_to_its_market() {
    let card = default_card();
    let at = instant(NOV_2025);
    for (iso, market) in META_COUNTRIES {
        let bsuid = customer(&format!("{iso}.abc123"));
        assert_eq!(card.market_at(&bsuid, at), *market, "BSUID of {iso}");
        let phone = customer(&format!("{}5550100", bsuid.calling_digits()));
        assert_eq!(card.market_at(&phone, at), *market, "number of {iso}: {phone}");
        assert_eq!(card.rates_for(&phone, at).market, *market, "row of {iso}");
    }
    let markets: std::collections::BTreeSet<_> = card.rows().map(|row| row.market.as_str()).collect();
    assert_eq!(markets.len(), 47, "{markets:?}");
}

#[test]
fn plus_one_area_codes_split_north_america_from_rest_of_latin_america() {
    let card = default_card();
    let at = instant(NOV_2025);
    for area in ["809", "829", "849", "658", "876", "787", "939"] {
        let number = customer(&format!("1{area}5550100"));
        assert_eq!(card.market_at(&number, at), "Rest of Latin America", "{area}");
    }
    for area in ["415", "212", "416", "604", "242", "868"] {
        let number = customer(&format!("1{area}5550100"));
        assert_eq!(card.market_at(&number, at), "North America", "{area}");
    }
}

#[test]
fn prefixes_move_between_markets_on_their_dates() {
    let card = default_card();
    let zimbabwe = customer("263771234567");
    assert_eq!(
        card.market_at(&zimbabwe, instant("2025-09-30T23:59:59.999Z")),
        "Other"
    );
    assert_eq!(
        card.market_at(&zimbabwe, instant("2025-10-01T00:00:00Z")),
        "Rest of Africa"
    );
    assert_eq!(
        card.market_at(&customer("ZW.abc"), instant("2025-10-01T00:00:00Z")),
        "Rest of Africa"
    );
    assert_eq!(card.market_of(&zimbabwe), "Rest of Africa");
    assert_eq!(
        card.rates_for(&zimbabwe, instant("2025-10-01T00:00:00Z"))
            .marketing
            .to_string(),
        "0.0225"
    );
    let hong_kong = customer("85291234567");
    assert_eq!(
        card.market_at(&hong_kong, instant("2026-06-30T23:59:59.999Z")),
        "Rest of Asia Pacific"
    );
    assert_eq!(
        card.market_at(&hong_kong, instant("2026-07-01T00:00:00Z")),
        "Hong Kong"
    );
    let kazakhstan = customer("77011234567");
    assert_eq!(
        card.market_at(&kazakhstan, instant("2026-09-30T23:59:59.999Z")),
        "Russia"
    );
    assert_eq!(
        card.market_at(&kazakhstan, instant("2026-10-01T00:00:00Z")),
        "Kazakhstan"
    );
    assert_eq!(
        card.market_at(&customer("KZ.abc"), instant("2026-10-01T00:00:00Z")),
        "Kazakhstan"
    );
    assert_eq!(
        card.market_at(&customer("79161234567"), instant("2026-10-01T00:00:00Z")),
        "Russia"
    );
    for (number, market) in [
        ("8801712345678", "Bangladesh"),
        ("9647701234567", "Iraq"),
        ("9779812345678", "Nepal"),
        ("94771234567", "Sri Lanka"),
        ("96551234567", "Kuwait"),
        ("212612345678", "Morocco"),
        ("96891234567", "Oman"),
        ("380501234567", "Ukraine"),
        ("6591234567", "Singapore"),
        ("36201234567", "Hungary"),
        ("48501234567", "Poland"),
        ("40721234567", "Romania"),
        ("97433123456", "Qatar"),
    ] {
        assert_eq!(
            card.market_at(&customer(number), instant("2026-10-01T00:00:00Z")),
            market,
            "{number}"
        );
    }
}

#[test]
fn dated_rows_take_effect_at_their_boundaries() {
    let card = default_card();
    let india = customer("919800000001");
    let utility_at = |number: &CustomerId, at: &str| {
        card.rates_for(number, instant(at))
            .price(Category::Utility)
            .to_string()
    };
    assert_eq!(utility_at(&india, "2025-06-30T23:59:59.999Z"), "0.3456 INR");
    assert_eq!(utility_at(&india, "2025-07-01T00:00:00Z"), "0.115 INR");
    let marketing_at = |at: &str| {
        card.rates_for(&india, instant(at))
            .price(Category::Marketing)
            .to_string()
    };
    assert_eq!(marketing_at("2025-12-31T23:59:59.999Z"), "0.8147 INR");
    assert_eq!(marketing_at("2026-01-01T00:00:00Z"), "0.8631 INR");
    assert_eq!(marketing_at("2026-10-01T00:00:00Z"), "0.8631 INR");
    let us = customer("14155550100");
    assert_eq!(utility_at(&us, "2025-06-30T23:59:59.999Z"), "0.015 USD");
    assert_eq!(utility_at(&us, "2025-07-01T00:00:00Z"), "0.004 USD");
    assert_eq!(utility_at(&us, "2025-12-31T23:59:59.999Z"), "0.004 USD");
    assert_eq!(utility_at(&us, "2026-01-01T00:00:00Z"), "0.0034 USD");
    for (number, marketing, utility) in [
        ("5511999990000", "0.0625", "0.0068"),
        ("18095550100", "0.0740", "0.0113"),
        ("37761234567", "0.0604", "0.0077"),
    ] {
        for at in ["2025-07-01T00:00:00Z", "2026-10-01T00:00:00Z"] {
            let row = card.rates_for(&customer(number), instant(at));
            assert_eq!(row.marketing.to_string(), marketing, "{number} {at}");
            assert_eq!(row.utility.to_string(), utility, "{number} {at}");
            assert_eq!(row.service, row.utility, "{number} {at}");
        }
    }
}

#[test]
fn a_market_may_have_rows_in_several_currencies() {
    let card = default_card();
    let india = customer("919800000001");
    let usd = Currency::new("USD").unwrap();
    let inr = Currency::new("INR").unwrap();
    assert_eq!(card.default_currency("India"), Some(inr));
    assert_eq!(card.currencies("India"), vec![inr, usd]);
    assert_eq!(card.default_currency("Brazil"), Some(usd));
    let usd_at = |at: &str| {
        card.rates_in(&india, instant(at), usd)
            .map(|row| row.price(Category::Marketing).to_string())
    };
    assert_eq!(usd_at("2023-06-01T00:00:00Z").as_deref(), Some("0.0099 USD"));
    assert_eq!(usd_at("2025-07-01T00:00:00Z").as_deref(), Some("0.0107 USD"));
    assert_eq!(usd_at("2026-01-01T00:00:00Z").as_deref(), Some("0.0118 USD"));
    assert_eq!(
        card.rates_in(&india, JUNE_2023, inr)
            .map(|row| row.marketing.to_string())
            .as_deref(),
        Some("0.8147")
    );
    assert!(
        card.rates_in(&customer("5511999990000"), JUNE_2023, inr)
            .is_none()
    );

    let two_currencies = format!("{ROW}{}", ROW.replace("USD", "EUR"));
    check_error(
        &two_currencies,
        "mark the rows of its default currency `default = true`",
    );
    let eur_default = two_currencies.replacen("currency = \"EUR\"", "currency = \"EUR\"\ndefault = true", 1);
    let card = parse(&eur_default, "test.toml").unwrap();
    assert_eq!(card.default_currency("Other"), Currency::new("EUR").ok());
    check_price(&card, "9998000000", Category::Marketing, "0.0604 EUR");
}

#[test]
fn the_shipped_volume_ladders_are_read_and_kept() {
    let card = default_card();
    let india = card.rates_for(&customer("919800000001"), instant("2026-01-01T00:00:00Z"));
    let tiers = card
        .tiers_of(india)
        .expect("India INR has an authentication ladder");
    let ladder: Vec<_> = tiers
        .authentication
        .iter()
        .map(|tier| (tier.from, tier.rate.to_string()))
        .collect();
    assert_eq!(ladder.first(), Some(&(1, "0.1150".to_owned())));
    assert_eq!(ladder.get(1), Some(&(750_001, "0.1081".to_owned())));
    assert_eq!(ladder.last(), Some(&(100_000_001, "0.0805".to_owned())));
    assert_eq!(ladder.len(), 6);
    assert!(tiers.utility.is_empty());
    assert_eq!(india.price(Category::Authentication).to_string(), "0.115 INR");

    let pakistan = customer("923001234567");
    assert!(
        card.tiers_of(card.rates_for(&pakistan, instant("2026-06-30T23:59:59.999Z")))
            .is_none()
    );
    let row = card.rates_for(&pakistan, instant("2026-07-01T00:00:00Z"));
    let tiers = card
        .tiers_of(row)
        .expect("Pakistan has a utility ladder from 2026-07-01");
    assert_eq!(tiers.utility.len(), 6);
    assert_eq!(tiers.utility[1].from, 150_001);
    assert_eq!(row.utility.to_string(), "0.0100");
}

const LADDER: &str = r#"utility_tiers = [
    { from = 1, rate = "0.0338" },
    { from = 150001, rate = "0.0300" },
]
"#;

#[test]
fn a_bad_ladder_is_refused_with_its_line() {
    let good = format!("{ROW}{LADDER}");
    let card = parse(&good, "test.toml").unwrap();
    assert_eq!(
        card.rows()
            .next()
            .and_then(|row| card.tiers_of(row))
            .map(|tiers| tiers.utility.len()),
        Some(2)
    );
    check_error(
        &good.replace("150001", "0"),
        "line 10 (`utility_tiers = [`): `utility_tiers` bounds must increase",
    );
    check_error(
        &good.replace("from = 1,", "from = 2,"),
        "`utility_tiers` must start at 0 or 1",
    );
    check_error(&good.replace("\"0.0300\"", "\"0.03.0\""), "line 10");
    check_error(
        &good.replace("\"0.0338\" }", "\"0.0400\" }"),
        "utility tiers: the first tier's rate 0.0400 is not the row's rate 0.0338",
    );
}

#[test]
fn a_bad_field_is_refused_with_its_line() {
    check_error(
        &ROW.replace("\"0.0338\"", "\"-0.0338\""),
        "line 7 (`utility = \"-0.0338\"`): `utility` must not be negative",
    );
    check_error(
        &ROW.replace("2023-06-01T00:00:00Z", "2023-06-01"),
        "line 5 (`effective_from = 2023-06-01`)",
    );
    check_error(&format!("{ROW}{ROW}"), "has two rows in USD from");
    let moved = format!(
        "{ROW}\n[[prefix_moves]]\nmarket = \"Nowhere\"\nprefixes = [\"263\"]\neffective_from = 2025-10-01T00:00:00Z\n"
    );
    check_error(&moved, "move to `Nowhere`, which has no rows");
    let early = moved
        .replace("Nowhere", "Other")
        .replace("2025-10-01", "2020-01-01");
    check_error(&early, "before its first row");
}
