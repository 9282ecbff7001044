//! Tests of the auth file, token lookup, roles and the checks of ids; the end-to-end test of two
//! tenants over gRPC is `tests/e2e/auth.rs`.

use prost::Message as _;

use super::*;

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn file(entries: &[(&str, &str, &str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, role, token, accounts)| {
            format!(
                "[[tokens]]\nname = \"{name}\"\ntenant = \"t-{name}\"\nrole = \"{role}\"\nsha256 = \"{}\"\naccounts = {accounts}\n",
                digest(token)
            )
        })
        .collect()
}

#[test]
fn a_token_is_found_by_its_digest_and_an_unknown_one_is_not() {
    let tokens = parse(&file(&[
        ("acme", "gateway", "secret-a", r#"["waba-a"]"#),
        ("globex", "reader", "secret-b", r#"["waba-b", "waba-c"]"#),
    ]))
    .expect("a valid file");
    assert_eq!(tokens.len(), 2);
    let acme = tokens.find("secret-a").expect("acme's token");
    assert_eq!((acme.name.as_str(), acme.role), ("acme", Role::Gateway));
    assert!(acme.may_touch_account(&AccountId::new("a", "waba-a").unwrap()));
    assert!(!acme.may_touch_account(&AccountId::new("a", "waba-b").unwrap()));
    assert_eq!(
        tokens.find("secret-b").expect("globex's token").tenant,
        "t-globex"
    );
    assert!(tokens.find("secret-c").is_none());
    assert!(tokens.find("").is_none());
    // The file holds digests: the digest itself is not a token.
    assert!(tokens.find(&digest("secret-a")).is_none());
}

#[test]
fn every_account_and_own_portfolios() {
    let text = format!(
        "{}portfolios = [\"bp-1\"]\n",
        file(&[("ops", "admin", "t", r#"["*"]"#)])
    );
    let tokens = parse(&text).expect("a valid file");
    let ops = tokens.find("t").unwrap();
    assert!(ops.may_touch_account(&AccountId::new("a", "anything").unwrap()));
    assert!(ops.may_touch_portfolio(&PortfolioId::new("p", "bp-1").unwrap()));
    // Every account: so every account's own portfolio too.
    assert!(ops.may_touch_portfolio(&PortfolioId::new("p", "bp-2").unwrap()));

    let tokens = parse(&file(&[("gw", "gateway", "t", r#"["waba-a"]"#)])).unwrap();
    let gateway = tokens.find("t").unwrap();
    assert!(gateway.may_touch_portfolio(&PortfolioId::of_account(&AccountId::new("a", "waba-a").unwrap())));
    assert!(!gateway.may_touch_portfolio(&PortfolioId::new("p", "bp-1").unwrap()));
}

#[test]
fn a_bad_file_is_refused_with_what_is_wrong() {
    let cases = [
        (String::new(), "no [[tokens]]"),
        (file(&[("a", "gateway", "t", "[]")]), "`accounts` is empty"),
        (
            file(&[("a", "gateway", "t", r#"["*", "waba-a"]"#)]),
            "\"*\" beside other ids",
        ),
        (file(&[("a", "gateway", "t", r#"[" waba-a"]"#)]), "holds the id"),
        (
            file(&[("a", "owner", "t", r#"["waba-a"]"#)]),
            "unknown variant `owner`",
        ),
        (
            file(&[
                ("a", "gateway", "t", r#"["w"]"#),
                ("a", "reader", "u", r#"["w"]"#),
            ]),
            "two tokens are named \"a\"",
        ),
        (
            file(&[
                ("a", "gateway", "t", r#"["w"]"#),
                ("b", "reader", "t", r#"["w"]"#),
            ]),
            "another token's too",
        ),
        (
            file(&[("a", "gateway", "t", r#"["w"]"#)]).replace(&digest("t"), "abc"),
            "64 hex digits",
        ),
        (
            format!("{}token = \"t\"\n", file(&[("a", "gateway", "t", r#"["w"]"#)])),
            "unknown field `token`",
        ),
    ];
    for (text, expected) in cases {
        match parse(&text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(error) => assert!(error.contains(expected), "{error:?} should say {expected:?}"),
        }
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    let error = load(&path).expect_err("a missing file");
    assert!(
        error.starts_with("--auth-file ") && error.contains("cannot read it"),
        "{error}"
    );
    std::fs::write(&path, file(&[("a", "admin", "t", r#"["*"]"#)])).unwrap();
    assert_eq!(load(&path).expect("a valid file").len(), 1);
}

#[test]
fn every_method_of_hourglass_v1_has_its_role_and_health_and_reflection_are_open() {
    let set = prost_types::FileDescriptorSet::decode(hourglass_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut named = 0;
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                assert!(
                    METHODS.iter().any(|(known, _)| *known == path),
                    "{path} is not in METHODS"
                );
                named += 1;
            }
        }
    }
    assert_eq!(
        named,
        METHODS.len(),
        "METHODS names a method the protos do not have"
    );
    assert_eq!(required_role("/grpc.health.v1.Health/Check"), None);
    assert_eq!(required_role("/grpc.health.v1.Health/Watch"), None);
    assert_eq!(
        required_role("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
        None
    );
    assert_eq!(
        required_role("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
        None
    );
    assert_eq!(
        required_role("/hourglass.v1.RegistryService/GetAccount"),
        Some(Role::Reader)
    );
    assert_eq!(
        required_role("/hourglass.v1.PolicyService/RecordMessage"),
        Some(Role::Gateway)
    );
    assert_eq!(
        required_role("/hourglass.v1.RegistryService/PutTemplate"),
        Some(Role::Admin)
    );
    // A method nobody listed needs the most.
    assert_eq!(
        required_role("/hourglass.v1.PolicyService/Forget"),
        Some(Role::Admin)
    );
    assert_eq!(required_role("/grpc.health.v1.Healthy/Check"), Some(Role::Admin));
}

fn request(path: &str, authorization: Option<&str>) -> http::Request<Body> {
    let mut builder = http::Request::builder().uri(path);
    if let Some(value) = authorization {
        builder = builder.header(http::header::AUTHORIZATION, value);
    }
    builder.body(Body::empty()).unwrap()
}

#[test]
fn a_call_needs_a_known_token_whose_role_may_call_the_method() {
    let tokens = parse(&file(&[
        ("reader", "reader", "r-token", r#"["w"]"#),
        ("gateway", "gateway", "g-token", r#"["w"]"#),
        ("admin", "admin", "a-token", r#"["w"]"#),
    ]))
    .unwrap();
    let record = "/hourglass.v1.PolicyService/RecordMessage";
    let put = "/hourglass.v1.RegistryService/PutAccount";
    let read = "/hourglass.v1.UsageService/GetUsage";
    let code = |path: &str, authorization: Option<&str>| {
        authenticate(&tokens, &request(path, authorization)).map_err(|status| status.code())
    };
    assert_eq!(code(record, None).unwrap_err(), tonic::Code::Unauthenticated);
    assert_eq!(
        code(record, Some("Bearer nope")).unwrap_err(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(record, Some("Basic g-token")).unwrap_err(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(record, Some("Bearer ")).unwrap_err(),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(record, Some("Bearer r-token")).unwrap_err(),
        tonic::Code::PermissionDenied
    );
    assert!(code(record, Some("Bearer g-token")).unwrap().is_some());
    assert!(
        code(record, Some("bearer  g-token ")).unwrap().is_some(),
        "the scheme in any case"
    );
    assert_eq!(
        code(put, Some("Bearer g-token")).unwrap_err(),
        tonic::Code::PermissionDenied
    );
    assert!(code(put, Some("Bearer a-token")).unwrap().is_some());
    assert!(code(read, Some("Bearer r-token")).unwrap().is_some());
    // Health needs nothing, and a token there is not even looked at.
    assert!(code("/grpc.health.v1.Health/Check", None).unwrap().is_none());
    assert!(
        code("/grpc.health.v1.Health/Check", Some("Bearer nope"))
            .unwrap()
            .is_none()
    );
    let refused = authenticate(&tokens, &request(record, Some("Bearer r-token"))).unwrap_err();
    assert_eq!(
        refused.message(),
        "a reader token may not call RecordMessage; it needs a gateway token"
    );
}

#[test]
fn access_checks_accounts_and_portfolios_without_naming_their_existence() {
    let tokens = parse(&file(&[("acme", "admin", "t", r#"["waba-a"]"#)])).unwrap();
    let access = Access(tokens.find("t"));
    let own = AccountId::new("account_id", "waba-a").unwrap();
    let other = AccountId::new("account_id", "waba-b").unwrap();
    access.account(&own).expect("its own account");
    access
        .portfolio(&PortfolioId::of_account(&own))
        .expect("its account's own portfolio");
    match access.account(&other) {
        Err(Error::PermissionDenied(message)) => {
            assert_eq!(message, "this token may not touch account `waba-b`")
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert!(matches!(
        access.portfolio(&PortfolioId::new("portfolio_id", "bp-b").unwrap()),
        Err(Error::PermissionDenied(_))
    ));
    // Without --auth-file, everything passes.
    Access::default().account(&other).expect("no token, no limit");
}
