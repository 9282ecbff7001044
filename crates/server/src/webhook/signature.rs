//! Meta's `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the exact body bytes under the
//! app secret, compared in constant time (`hmac`'s `verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Checks `header` against the HMAC of `payload` under `secret`; the error says what is wrong, never
/// what the right signature would be.
pub(crate) fn verify(secret: &[u8], payload: &[u8], header: Option<&str>) -> Result<(), String> {
    let header = header
        .map(str::trim)
        .filter(|header| !header.is_empty())
        .ok_or("the webhook has no signature: give the X-Hub-Signature-256 header Meta sent")?;
    let hex = header
        .strip_prefix("sha256=")
        .ok_or("the signature must be `sha256=` and 64 hex digits, as in X-Hub-Signature-256")?;
    let expected = hex::decode(hex)
        .map_err(|_| "the signature must be `sha256=` and 64 hex digits, as in X-Hub-Signature-256")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "the app secret cannot key an HMAC")?;
    mac.update(payload);
    mac.verify_slice(&expected)
        .map_err(|_| "the signature does not match the payload under the app secret".to_owned())
}

/// Signs `payload` the way Meta does, for tests and tools.
pub fn sign(secret: &[u8], payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_against_the_exact_bytes() {
        let secret = b"app-secret";
        let payload = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let signature = sign(secret, payload);
        assert!(verify(secret, payload, Some(&signature)).is_ok());
        assert!(
            verify(
                secret,
                payload,
                Some(&signature.to_uppercase().replace("SHA256=", "sha256="))
            )
            .is_ok()
        );
        let mut changed = payload.to_vec();
        changed.push(b' ');
        assert!(
            verify(secret, &changed, Some(&signature)).is_err(),
            "one more byte"
        );
        assert!(verify(b"another", payload, Some(&signature)).is_err());
        for bad in [
            None,
            Some(""),
            Some("sha1=00"),
            Some("sha256=zz"),
            Some("sha256=00"),
        ] {
            assert!(verify(secret, payload, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signatures_match_a_known_value() {
        // HMAC-SHA256 of "hello" under "secret", as computed by `openssl dgst -sha256 -hmac secret`.
        assert_eq!(
            sign(b"secret", b"hello"),
            "sha256=88aab3ede8d3adf94d26ab90d3bafd4a2083070c3bcce9c014ee04a443847c0b"
        );
    }
}
