//! Tests of command-line parsing and validation; none reads or changes the process environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::CommandFactory;
use hourglass_core::PricingSchedule;

use super::*;

#[track_caller]
fn parse(args: &[&str]) -> Config {
    Config::try_parse_from(std::iter::once("hourglass").chain(args.iter().copied()))
        .unwrap_or_else(|error| panic!("{args:?} should parse: {error}"))
}

/// Checks that `args` fail to parse with an error that names `flag`.
#[track_caller]
fn check_rejected(args: &[&str], flag: &str) {
    let error = Config::try_parse_from(std::iter::once("hourglass").chain(args.iter().copied()))
        .expect_err("the arguments are invalid")
        .to_string();
    assert!(error.contains(flag), "{args:?}: {error:?} does not name {flag}");
}

#[test]
fn defaults() {
    let config = parse(&[]);
    assert_eq!(
        config,
        Config {
            listen: "127.0.0.1:50051".parse::<SocketAddr>().unwrap(),
            store: "sled:./hourglass-data".to_owned(),
            rate_card: None,
            pricing_model: PricingScheduleArg::MetaCalendar,
            shadow: Vec::new(),
            max_clock_skew: 300,
            store_timeout_ms: 250,
            when_store_unavailable: WhenStoreUnavailable::Fail,
            log_format: LogFormat::Plain,
            log_filter: "info".to_owned(),
            metrics_listen: None,
            connection: ConnectionConfig::default(),
            log_privacy: LogPrivacyConfig::default(),
            webhook: WebhookConfig::default(),
            tls: TlsConfig::default(),
            decision_log: None,
            decision_log_clear_ids: false,
            auth: AuthConfig::default(),
            command: None,
        }
    );
    let policy = config.validate().expect("the defaults are valid");
    assert_eq!(
        policy.schedule,
        PricingSchedule::MetaCalendar,
        "Meta's calendar by default"
    );
    assert_eq!(policy.free_tier_conversations, 1_000);
    assert_eq!(policy.free_service_messages, 1_000);
}

#[test]
fn every_flag() {
    let directory = tempfile::tempdir().unwrap();
    let card_path = directory.path().join("card.toml");
    std::fs::write(&card_path, crate::rate_card::DEFAULT_RATE_CARD).unwrap();
    let card_path = card_path.to_str().unwrap();
    let config = parse(&[
        "--listen",
        "0.0.0.0:6000",
        "--store=redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
        "--rate-card",
        card_path,
        "--pricing-model",
        "meta-calendar",
        "--max-clock-skew",
        "60",
        "--store-timeout-ms",
        "400",
        "--when-store-unavailable",
        "allow-replies",
        "--log-format",
        "json",
        "--log-filter",
        "warn,hourglass_server=debug",
        "--metrics-listen",
        "0.0.0.0:9090",
        "--decision-log",
        "-",
        "--decision-log-clear-ids",
        "--insecure-listen",
    ]);
    assert_eq!(
        config,
        Config {
            listen: "0.0.0.0:6000".parse::<SocketAddr>().unwrap(),
            store: "redis+cluster://10.0.0.1:7000,10.0.0.2:7000".to_owned(),
            rate_card: Some(PathBuf::from(card_path)),
            pricing_model: PricingScheduleArg::MetaCalendar,
            shadow: Vec::new(),
            max_clock_skew: 60,
            store_timeout_ms: 400,
            when_store_unavailable: WhenStoreUnavailable::AllowReplies,
            log_format: LogFormat::Json,
            log_filter: "warn,hourglass_server=debug".to_owned(),
            metrics_listen: Some("0.0.0.0:9090".parse::<SocketAddr>().unwrap()),
            connection: ConnectionConfig::default(),
            log_privacy: LogPrivacyConfig::default(),
            webhook: WebhookConfig::default(),
            tls: TlsConfig::default(),
            decision_log: Some(PathBuf::from("-")),
            decision_log_clear_ids: true,
            auth: AuthConfig {
                auth_file: None,
                insecure_listen: true,
            },
            command: None,
        }
    );
    assert_eq!(config.validate().unwrap().schedule, PricingSchedule::MetaCalendar);
    for (value, schedule) in [
        ("per-message", PricingSchedule::PerMessage2025),
        ("per-message-2025", PricingSchedule::PerMessage2025),
        ("per-message-2026", PricingSchedule::PerMessage2026),
        ("conversation-2023", PricingSchedule::Conversation2023),
    ] {
        let parsed = parse(&["--pricing-model", value]).validate().unwrap().schedule;
        assert_eq!(parsed, schedule, "{value}");
    }
    assert_eq!(parse(&["--store", "memory:"]).store, "memory:");
    assert_eq!(parse(&["--max-clock-skew", "0"]).max_clock_skew, 0);
}

#[test]
fn metrics_listen_is_off_by_default_and_takes_an_address() {
    assert_eq!(parse(&[]).metrics_listen, None, "no metrics unless asked for");
    assert_eq!(
        parse(&["--metrics-listen", "127.0.0.1:0"]).metrics_listen,
        Some("127.0.0.1:0".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(
        parse(&["--metrics-listen=[::1]:9090"]).metrics_listen,
        Some("[::1]:9090".parse::<SocketAddr>().unwrap())
    );
    parse(&["--metrics-listen", "127.0.0.1:9090"])
        .validate()
        .expect("a metrics address is valid");
    check_rejected(&["--metrics-listen", "localhost:9090"], "--metrics-listen");
    check_rejected(&["--metrics-listen", "127.0.0.1"], "--metrics-listen");
    check_rejected(&["--metrics-listen"], "--metrics-listen");
    let help = Config::command().render_long_help().to_string();
    assert!(
        help.contains("--metrics-listen <ADDR>") && help.contains("HOURGLASS_METRICS_LISTEN"),
        "--help lists the flag with its variable:\n{help}"
    );
}

#[test]
fn bad_values_name_their_flag() {
    check_rejected(&["--listen", "localhost"], "--listen");
    check_rejected(&["--listen", "127.0.0.1"], "--listen");
    check_rejected(&["--pricing-model", "conversation-2024"], "--pricing-model");
    check_rejected(&["--max-clock-skew=-1"], "--max-clock-skew");
    check_rejected(&["--max-clock-skew", "5m"], "--max-clock-skew");
    check_rejected(&["--max-clock-skew", "86401"], "--max-clock-skew");
    check_rejected(&["--store-timeout-ms", "0"], "--store-timeout-ms");
    check_rejected(&["--store-timeout-ms", "ten"], "--store-timeout-ms");
    check_rejected(&["--log-format", "xml"], "--log-format");
    check_rejected(&["--no-such-flag"], "--no-such-flag");
}

#[test]
fn validate_reports_every_problem_at_once() {
    let config = parse(&[
        "--store",
        "postgres://db",
        "--rate-card",
        "/nonexistent/hourglass/card.toml",
        "--log-filter",
        "info,[[[",
    ]);
    let error = config.validate().expect_err("three problems");
    assert_eq!(error.problems.len(), 3, "{error}");
    assert!(
        error.problems[0].starts_with("--store: unknown store scheme \"postgres\""),
        "{error}"
    );
    assert!(error.problems[1].starts_with("--log-filter"), "{error}");
    assert!(
        error.problems[2].starts_with("--rate-card: cannot read rate card /nonexistent"),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.starts_with("invalid configuration: --store"), "{message}");
    assert!(!message.ends_with('.'), "{message}");
}

#[test]
fn store_urls() {
    for good in [
        "memory:",
        "sled:./hourglass-data",
        "sled:/var/lib/hourglass",
        "sled:///var/lib/hourglass",
        "redis://127.0.0.1:6379",
        "redis+cluster://a:7000,b:7001",
        "rediss://:secret@redis.example.com:6380/1",
        "rediss+cluster://:secret@a:7000,b:7001",
    ] {
        assert_eq!(check_store_url(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "memory",
        "sled:",
        "sled://",
        "redis://",
        "redis:",
        "redis://a:1,b:2",
        "redis+cluster://",
        "redis+cluster://a:1,,b:2",
        "rediss://",
        "rediss://a:1,b:2",
        "rediss+cluster://",
        "mysql://x",
    ] {
        assert!(check_store_url(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn every_flag_has_an_environment_variable_and_help() {
    let command = Config::command();
    for arg in command.get_arguments().filter(|arg| {
        arg.get_long()
            .is_some_and(|long| long != "help" && long != "version")
    }) {
        let long = arg.get_long().unwrap();
        let env = arg
            .get_env()
            .unwrap_or_else(|| panic!("--{long} has no environment variable"));
        assert!(
            env.to_str().unwrap().starts_with("HOURGLASS_"),
            "--{long}: {env:?}"
        );
        assert!(arg.get_help().is_some(), "--{long} has no help");
        assert!(
            !arg.get_default_values().is_empty()
                || matches!(
                    long,
                    "rate-card"
                        | "log-id-key"
                        | "shadow"
                        | "webhook-listen"
                        | "metrics-listen"
                        | "webhook-app-secret"
                        | "webhook-app-secret-file"
                        | "webhook-verify-token"
                        | "tls-cert"
                        | "tls-key"
                        | "tls-client-ca"
                        | "decision-log"
                        | "auth-file"
                ),
            "--{long} has no default"
        );
    }
    let help = Config::command().render_long_help().to_string();
    for expected in [
        "HOURGLASS_LISTEN",
        "HOURGLASS_STORE",
        "redis+cluster://[USER:PASSWORD@]H1:P1,H2:P2",
        "HOURGLASS_LOG",
        "conversation-2023",
        "meta-calendar",
        "rediss://",
        "(0 to 86400)",
        "(1 to 60000)",
    ] {
        assert!(
            help.contains(expected),
            "--help does not mention {expected}:\n{help}"
        );
    }
    command.debug_assert();
}

// Connection limits (issue 13).

#[test]
fn connection_defaults() {
    assert_eq!(
        parse(&[]).connection,
        ConnectionConfig {
            max_concurrent_streams: 100,
            request_timeout_ms: 10_000,
            idle_timeout: 120,
            http2_keepalive_interval: 30,
            http2_keepalive_timeout: 20,
            http2_max_header_list_bytes: 16_384,
            http2_max_pending_resets: 20,
            max_message_bytes: 262_144,
            tcp_keepalive: 60,
        }
    );
    assert_eq!(ConnectionConfig::default(), parse(&[]).connection);
}

#[test]
fn every_connection_flag() {
    let config = parse(&[
        "--max-concurrent-streams",
        "10000",
        "--request-timeout-ms",
        "1",
        "--idle-timeout",
        "86400",
        "--http2-keepalive-interval",
        "1",
        "--http2-keepalive-timeout",
        "3600",
        "--http2-max-header-list-bytes",
        "1024",
        "--http2-max-pending-resets",
        "1",
        "--max-message-bytes",
        "16777216",
        "--tcp-keepalive",
        "7200",
    ]);
    assert_eq!(
        config.connection,
        ConnectionConfig {
            max_concurrent_streams: 10_000,
            request_timeout_ms: 1,
            idle_timeout: 86_400,
            http2_keepalive_interval: 1,
            http2_keepalive_timeout: 3_600,
            http2_max_header_list_bytes: 1_024,
            http2_max_pending_resets: 1,
            max_message_bytes: 16_777_216,
            tcp_keepalive: 7_200,
        }
    );
}

#[test]
fn connection_flags_out_of_range_name_their_flag() {
    for (flag, bad) in [
        ("--max-concurrent-streams", "0"),
        ("--max-concurrent-streams", "10001"),
        ("--request-timeout-ms", "0"),
        ("--request-timeout-ms", "600001"),
        ("--idle-timeout", "0"),
        ("--idle-timeout", "86401"),
        ("--http2-keepalive-interval", "0"),
        ("--http2-keepalive-timeout", "3601"),
        ("--http2-max-header-list-bytes", "1023"),
        ("--http2-max-header-list-bytes", "1048577"),
        ("--http2-max-pending-resets", "0"),
        ("--max-message-bytes", "1023"),
        ("--max-message-bytes", "16777217"),
        ("--tcp-keepalive", "0"),
    ] {
        check_rejected(&[flag, bad], flag);
    }
}

#[test]
fn log_privacy_flags() {
    assert_eq!(parse(&[]).log_privacy, LogPrivacyConfig::default());
    let config = parse(&["--log-personal-data", "--log-id-key", "0123456789abcdef"]);
    assert!(config.log_privacy.log_personal_data);
    assert_eq!(
        config.log_privacy.log_id_key,
        Some(LogIdKey("0123456789abcdef".to_owned()))
    );
    assert!(
        !format!("{config:?}").contains("0123456789abcdef"),
        "Debug shows the key"
    );
    check_rejected(&["--log-id-key", "short"], "--log-id-key");
}

#[test]
fn an_invalid_value_from_the_environment_names_its_variable() {
    let command = Config::command().mut_args(|arg| arg.env(None));
    let parse_error = || {
        command
            .clone()
            .try_get_matches_from(["hourglass", "--log-format", "xml"])
            .expect_err("xml is no log format")
    };
    let without_flag = [std::ffi::OsString::from("hourglass")];
    let from_variable = name_the_variable(parse_error(), &Config::command(), &without_flag, |_| true)
        .render()
        .to_string();
    assert!(from_variable.contains("HOURGLASS_LOG_FORMAT"), "{from_variable}");

    let with_flag = ["hourglass", "--log-format", "xml"].map(std::ffi::OsString::from);
    let from_flag = name_the_variable(parse_error(), &Config::command(), &with_flag, |_| true)
        .render()
        .to_string();
    assert!(!from_flag.contains("HOURGLASS_LOG_FORMAT"), "{from_flag}");
}

#[test]
fn shadow_takes_guard_names() {
    let config = parse(&["--shadow", "template,marketing-cap"]);
    assert_eq!(
        config.shadow,
        [
            hourglass_core::Guard::Template,
            hourglass_core::Guard::MarketingCap
        ]
    );
    let policy = config.validate().expect("a valid configuration");
    assert!(policy.shadow.contains(&hourglass_core::Guard::MarketingCap));
    let error = Config::try_parse_from(["hourglass", "--shadow", "templates"]).unwrap_err();
    assert!(
        error.to_string().contains("\"templates\" is not a guard"),
        "{error}"
    );
}

// TLS of the gRPC listener (issue 10).

/// A test CA, a certificate it issued for `localhost` and that certificate's key, as PEM.
fn test_certificates() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &*ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn tls_is_off_by_default() {
    let config = parse(&[]);
    assert_eq!(config.tls, TlsConfig::default());
    assert_eq!(config.tls.files(), Ok(None), "plaintext unless asked for");
    assert_eq!(config.tls.handshake_timeout(), std::time::Duration::from_secs(10));
}

#[test]
fn tls_flags_need_each_other() {
    check_rejected(&["--tls-cert", "server.crt"], "--tls-key");
    check_rejected(&["--tls-key", "server.key"], "--tls-cert");
    check_rejected(&["--tls-client-ca", "clients.pem"], "--tls-cert");
    check_rejected(
        &["--tls-key", "server.key", "--tls-client-ca", "clients.pem"],
        "--tls-cert",
    );
    check_rejected(&["--tls-handshake-timeout", "0"], "--tls-handshake-timeout");
    check_rejected(&["--tls-handshake-timeout", "301"], "--tls-handshake-timeout");
    // A configuration built in code, past clap, is checked by `validate` the same way.
    for (tls, flag) in [
        (
            TlsConfig {
                tls_cert: Some(PathBuf::from("server.crt")),
                ..TlsConfig::default()
            },
            "--tls-cert needs --tls-key",
        ),
        (
            TlsConfig {
                tls_key: Some(PathBuf::from("server.key")),
                ..TlsConfig::default()
            },
            "--tls-key needs --tls-cert",
        ),
        (
            TlsConfig {
                tls_client_ca: Some(PathBuf::from("clients.pem")),
                ..TlsConfig::default()
            },
            "--tls-client-ca needs --tls-cert",
        ),
    ] {
        let config = Config { tls, ..parse(&[]) };
        let error = config.validate().expect_err("an incomplete TLS configuration");
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(error.problems[0].starts_with(flag), "{error}");
    }
}

#[test]
fn tls_files_are_read_and_checked_by_validate() {
    let directory = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = directory.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (ca, cert, key) = test_certificates();
    let (_, other_cert, _) = test_certificates();
    let ca = write("ca.pem", &ca);
    let cert = write("server.crt", &cert);
    let key = write("server.key", &key);
    let other_cert = write("other.crt", &other_cert);
    let garbage = write("garbage.pem", "not PEM at all\n");
    let missing = directory.path().join("missing.pem").to_str().unwrap().to_owned();
    let directory_path = directory.path().to_str().unwrap().to_owned();

    let config = parse(&[
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
        "--tls-handshake-timeout",
        "3",
    ]);
    config
        .validate()
        .expect("a certificate, its key and a CA are valid");
    let files = config.tls.files().unwrap().expect("TLS is on");
    assert_eq!(files.client_ca.as_deref(), Some(std::path::Path::new(&ca)));
    assert_eq!(config.tls.handshake_timeout(), std::time::Duration::from_secs(3));
    parse(&["--tls-cert", &cert, "--tls-key", &key])
        .validate()
        .expect("TLS without client certificates is valid");
    let served = crate::tls::load(&files).expect("the files load");
    assert_eq!(served.alpn_protocols, vec![b"h2".to_vec()], "ALPN offers h2");

    for (args, expected) in [
        (
            vec!["--tls-cert", &missing, "--tls-key", &key],
            "--tls-cert: cannot read",
        ),
        (
            vec!["--tls-cert", &directory_path, "--tls-key", &key],
            "--tls-cert:",
        ),
        (vec!["--tls-cert", &garbage, "--tls-key", &key], "--tls-cert:"),
        (vec!["--tls-cert", &key, "--tls-key", &key], "--tls-cert:"),
        (vec!["--tls-cert", &cert, "--tls-key", &garbage], "--tls-key:"),
        (vec!["--tls-cert", &cert, "--tls-key", &cert], "--tls-key:"),
        (vec!["--tls-cert", &other_cert, "--tls-key", &key], "--tls-key:"),
        (
            vec![
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-ca",
                &garbage,
            ],
            "--tls-client-ca:",
        ),
        (
            vec![
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
                "--tls-client-ca",
                &missing,
            ],
            "--tls-client-ca: cannot read",
        ),
    ] {
        let error = parse(&args).validate().expect_err("a bad TLS file is refused");
        assert_eq!(error.problems.len(), 1, "{args:?}: {error}");
        assert!(
            error.problems[0].starts_with(expected),
            "{args:?}: {error} does not start with {expected}"
        );
    }
    let mismatch = parse(&["--tls-cert", &other_cert, "--tls-key", &key])
        .validate()
        .expect_err("a key of another certificate");
    assert!(
        mismatch.problems[0].contains("is not the key of the certificate"),
        "{mismatch}"
    );
}

#[test]
fn replay_is_a_subcommand_and_serving_needs_none() {
    let config = parse(&["--store", "memory:"]);
    assert_eq!(config.command, None);
    let config = parse(&[
        "replay",
        "--decision-log",
        "decisions.jsonl",
        "--pricing-model",
        "conversation-2023",
    ]);
    assert_eq!(
        config.command,
        Some(crate::config::Command::Replay(crate::decision_log::ReplayArgs {
            decision_log: PathBuf::from("decisions.jsonl"),
            pricing_model: Some(PricingScheduleArg::Conversation2023),
            rate_card: None,
        }))
    );
}

#[test]
fn listening_beyond_loopback_needs_credentials_or_insecure_listen() {
    let problems = |args: &[&str]| match parse(args).validate() {
        Ok(_) => Vec::new(),
        Err(error) => error.problems,
    };
    assert!(problems(&[]).is_empty(), "loopback needs nothing");
    let refused = problems(&["--listen", "0.0.0.0:50051"]);
    assert!(
        refused.len() == 1 && refused[0].contains("--auth-file"),
        "{refused:?}"
    );
    assert!(problems(&["--listen", "0.0.0.0:50051", "--insecure-listen"]).is_empty());
    let webhook = problems(&["--webhook-listen", "0.0.0.0:8080"]);
    assert!(
        webhook.len() == 1 && webhook[0].contains("--webhook-app-secret"),
        "{webhook:?}"
    );
    assert!(problems(&["--webhook-listen", "127.0.0.1:8080"]).is_empty());
    assert!(problems(&["--webhook-listen", "0.0.0.0:8080", "--webhook-app-secret", "s"]).is_empty());
    assert!(problems(&["--webhook-listen", "0.0.0.0:8080", "--insecure-listen"]).is_empty());
}
