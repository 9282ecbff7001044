//! TLS of the gRPC listener (`--tls-cert`, `--tls-key`, `--tls-client-ca`): the PEM files read into a
//! rustls `ServerConfig`, the config in force ([`SharedTls`]), which each new connection's handshake
//! takes (`transport::Incoming`), and its reload on SIGHUP.
//!
//! A reload builds a whole new `ServerConfig` (certificate chain, key and client CA) and swaps it in;
//! connections already open keep the one they were accepted with. A file that cannot be read or used
//! leaves the config in force as it was.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::metrics;

/// The largest PEM file read: a certificate chain or a CA bundle is a few kilobytes.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The files a TLS listener is configured from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first (`--tls-cert`).
    pub cert: PathBuf,
    /// Its private key (`--tls-key`).
    pub key: PathBuf,
    /// The CAs client certificates must be signed by (`--tls-client-ca`); none: no client certificate
    /// is asked for.
    pub client_ca: Option<PathBuf>,
}

/// Reads the files and builds the server's TLS configuration (ALPN `h2`, TLS 1.2 and 1.3, ring); the
/// error names the flag at fault and why. The reads block: call it off the async runtime.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certificates("--tls-cert", &files.cert)?;
    let key_pem = read_pem("--tls-key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| match error {
        pem::Error::NoItemsFound => format!(
            "--tls-key: {} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            files.key.display()
        ),
        error => format!(
            "--tls-key: {} is not a valid PEM file: {error}",
            files.key.display()
        ),
    })?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("--tls-cert: cannot set up TLS: {error}"))?;
    let builder = match &files.client_ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates("--tls-client-ca", path)? {
                roots.add(certificate).map_err(|error| {
                    format!(
                        "--tls-client-ca: {} holds a certificate that cannot be a CA: {error}",
                        path.display()
                    )
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                    .build()
                    .map_err(|error| format!("--tls-client-ca: {}: {error}", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(_) => format!(
                "--tls-key: {} is not the key of the certificate in --tls-cert {}",
                files.key.display(),
                files.cert.display()
            ),
            rustls::Error::InvalidCertificate(error) => format!(
                "--tls-cert: the first certificate of {} cannot be read: {error}",
                files.cert.display()
            ),
            error => format!(
                "--tls-key: cannot use the key in {}: {error}",
                files.key.display()
            ),
        })?;
    // gRPC is HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Reads every certificate of a PEM file; at least one.
fn read_certificates(flag: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = read_pem(flag, path)?;
    let certificates = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{flag}: {} is not a valid PEM file: {error}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!(
            "{flag}: {} holds no PEM certificate (BEGIN CERTIFICATE)",
            path.display()
        ));
    }
    Ok(certificates)
}

/// Reads a PEM file: a regular file only, so that a FIFO put in its place cannot block a reload
/// forever, and no more than [`MAX_PEM_BYTES`].
fn read_pem(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let read_error = |error: std::io::Error| format!("{flag}: cannot read {shown}: {error}");
    // `stat` does not block on a FIFO, where `open` would wait for a writer.
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(format!("{flag}: {shown} is not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    // The path may name another file since the `stat`: check what was opened, and bound the read.
    if !file.metadata().map_err(read_error)?.is_file() {
        return Err(format!("{flag}: {shown} is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_PEM_BYTES {
        return Err(format!("{flag}: {shown} is larger than {MAX_PEM_BYTES} bytes"));
    }
    Ok(bytes)
}

/// The TLS configuration a new connection is accepted with, replaced whole on SIGHUP: connections
/// already open keep theirs.
pub(crate) type SharedTls = crate::reload::Shared<ServerConfig>;

/// Reloads the certificate, key and client CA on every SIGHUP; files that fail to load are logged
/// and the configuration in force stays.
pub(crate) async fn reload_on_sighup(tls: SharedTls, files: TlsFiles) {
    let origin = files.cert.display().to_string();
    crate::reload::Reload::new(
        "TLS certificate",
        origin,
        move || load(&files),
        move |config| tls.replace(config),
        metrics::tls_reload,
    )
    .on_sighup()
    .await;
}
