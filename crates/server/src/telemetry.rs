//! Logging: one tracing subscriber for the process, filtered by `HOURGLASS_LOG` and written as plain
//! lines or JSON, and what logs show of personal data.
//!
//! Customer ids (phone numbers, BSUIDs) and message ids (a `wamid` embeds the customer's number) are
//! personal data. Spans and events show them through [`personal`], as a keyed hash unless
//! `--log-personal-data` is given: the same id gives the same hash, so an operator can still follow
//! one customer through the logs, but cannot read the number back (a plain hash of a phone number is
//! reversed by trying every number).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use anyhow::Context as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogIdKey, LogPrivacyConfig};

/// The most characters of a request's value that a span shows; a business id is valid up to 128.
const MAX_SHOWN_CHARS: usize = 128;
/// How many bytes of the HMAC a hashed id shows (as twice as many hex digits).
const HASH_BYTES: usize = 8;

/// What the logs of this process show of personal ids, set once by [`init`].
static PERSONAL_DATA: OnceLock<PersonalData> = OnceLock::new();

/// What logs show of a personal id.
#[derive(Clone)]
enum PersonalData {
    /// Its keyed hash.
    Hashed { key: Vec<u8> },
    /// The id itself, for debugging.
    Shown,
}

impl PersonalData {
    /// Returns the setting in force: the one `init` installed, else hashes with a random key (tests and
    /// embedders that never call `init` log no personal data either).
    fn current() -> &'static PersonalData {
        PERSONAL_DATA.get_or_init(PersonalData::random)
    }

    fn random() -> PersonalData {
        let mut key = vec![0_u8; 32];
        // Without randomness the ids are still hashed, under a key that is not secret; say so.
        if let Err(error) = getrandom::fill(&mut key) {
            eprintln!(
                "hourglass: no randomness for the log id key ({error}), customer ids in logs are weakly hidden"
            );
        }
        PersonalData::Hashed { key }
    }

    fn from_config(log_privacy: &LogPrivacyConfig) -> PersonalData {
        let LogPrivacyConfig {
            log_personal_data,
            log_id_key,
        } = log_privacy;
        match (log_personal_data, log_id_key) {
            (true, _) => PersonalData::Shown,
            (false, Some(LogIdKey(key))) => PersonalData::Hashed {
                key: key.as_bytes().to_vec(),
            },
            (false, None) => PersonalData::random(),
        }
    }
}

/// Installs the global tracing subscriber and the log privacy setting; call it once, from `main`.
pub fn init(log_format: LogFormat, log_filter: &str, log_privacy: &LogPrivacyConfig) -> anyhow::Result<()> {
    if PERSONAL_DATA.set(PersonalData::from_config(log_privacy)).is_err() {
        anyhow::bail!("the log privacy setting is already installed");
    }
    let env_filter =
        EnvFilter::try_new(log_filter).with_context(|| format!("parse log filter {log_filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stdout)
        // Colours only for a person at a terminal, never in files or log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let result = match log_format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|error| anyhow::anyhow!("install the tracing subscriber: {error}"))
}

/// Displays a personal id (a customer id, a BSUID, a message id) for logs and spans: `h:` and its
/// keyed hash, or the id itself under `--log-personal-data`.
pub(crate) fn personal(raw: &str) -> Personal<'_> {
    Personal(raw)
}

/// Returns the keyed hash of a personal id (`h:` and hex digits), whatever `--log-personal-data`
/// says: the key of the logs' hashes (`--log-id-key` or the per-process random key), or a per-process
/// random key when the logs show ids in clear. Used by the decision log.
pub(crate) fn hashed(raw: &str) -> String {
    static CLEAR_LOGS_KEY: OnceLock<PersonalData> = OnceLock::new();
    let personal_data = match PersonalData::current() {
        PersonalData::Shown => CLEAR_LOGS_KEY.get_or_init(PersonalData::random),
        hashed => hashed,
    };
    match personal_data {
        PersonalData::Hashed { key } => hash_id(key, raw),
        PersonalData::Shown => unreachable!("`random` always hashes"),
    }
}

/// A personal id as logs show it; see [`personal`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Personal<'a>(&'a str);

impl fmt::Display for Personal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match PersonalData::current() {
            PersonalData::Shown => fmt::Display::fmt(&short(self.0), f),
            PersonalData::Hashed { key } => f.write_str(&hash_id(key, self.0)),
        }
    }
}

/// Displays a value from a request for logs and spans, cut to its first 128 characters: a span shows
/// its fields on every line logged inside it, and a request may carry a value of megabytes.
pub(crate) fn short(raw: &str) -> Short<'_> {
    Short(raw)
}

/// A request's value as logs show it; see [`short`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Short<'a>(&'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_SHOWN_CHARS) {
            None => f.write_str(self.0),
            Some((cut_idx, _)) => write!(f, "{}… ({} bytes)", &self.0[..cut_idx], self.0.len()),
        }
    }
}

/// Returns `h:` and the first bytes of HMAC-SHA256(key, id) in hex.
fn hash_id(key: &[u8], id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut text = String::with_capacity(2 + 2 * HASH_BYTES);
    text.push_str("h:");
    for byte in &digest[..HASH_BYTES] {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Replaces every run of 7 to 15 digits in `text` (what a phone number looks like, with or without
/// `+`) by its keyed hash, for error chains that come from a store and may name a thread's key.
///
/// Business ids of that length are hashed too: the request's span still shows them in clear.
pub(crate) fn scrub_numbers(text: &str) -> Cow<'_, str> {
    if matches!(PersonalData::current(), PersonalData::Shown) {
        return Cow::Borrowed(text);
    }
    let mut scrubbed = String::new();
    let mut copied_idx = 0;
    let bytes = text.as_bytes();
    let mut idx = 0;
    while idx < bytes.len() {
        if !bytes[idx].is_ascii_digit() {
            idx += 1;
            continue;
        }
        let start_idx = idx;
        while idx < bytes.len() && bytes[idx].is_ascii_digit() {
            idx += 1;
        }
        if (7..=15).contains(&(idx - start_idx)) {
            scrubbed.push_str(&text[copied_idx..start_idx]);
            scrubbed.push_str(&personal(&text[start_idx..idx]).to_string());
            copied_idx = idx;
        }
    }
    if copied_idx == 0 {
        return Cow::Borrowed(text);
    }
    scrubbed.push_str(&text[copied_idx..]);
    Cow::Owned(scrubbed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_ids_are_keyed_stable_and_short() {
        let hash = hash_id(b"0123456789abcdef", "919800000001");
        assert_eq!(hash, hash_id(b"0123456789abcdef", "919800000001"));
        assert_ne!(hash, hash_id(b"another key 0123", "919800000001"));
        assert_ne!(hash, hash_id(b"0123456789abcdef", "919800000002"));
        assert_eq!(hash.len(), 2 + 2 * HASH_BYTES);
        assert!(hash.starts_with("h:"), "{hash}");
        assert!(!hash.contains("9198"), "{hash}");
    }

    #[test]
    fn scrubbing_hides_phone_numbers_and_keeps_the_rest() {
        // Tests never call `init`: ids are hashed with a random key.
        let scrubbed = scrub_numbers("unexpected reply to HMGET thread:106540352242922:919800000001: nil");
        assert!(!scrubbed.contains("919800000001"), "{scrubbed}");
        assert!(
            scrubbed.starts_with("unexpected reply to HMGET thread:h:"),
            "{scrubbed}"
        );
        assert!(scrubbed.ends_with(": nil"), "{scrubbed}");
        assert_eq!(scrub_numbers("timed out after 250 ms"), "timed out after 250 ms");
        assert_eq!(
            scrub_numbers("1234567890123456 digits"),
            "1234567890123456 digits"
        );
        assert_eq!(
            personal("919800000001").to_string(),
            scrub_numbers("919800000001")
        );
    }

    #[test]
    fn short_values_are_shown_whole_and_long_ones_cut() {
        assert_eq!(short("106540352242922").to_string(), "106540352242922");
        let long = "x".repeat(1_000_000);
        let shown = short(&long).to_string();
        assert!(shown.len() < MAX_SHOWN_CHARS + 32, "{} bytes", shown.len());
        assert!(shown.ends_with("… (1000000 bytes)"), "{shown}");
    }
}
