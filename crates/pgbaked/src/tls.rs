//! TLS through rustls, following libpq's `sslmode`: `disable`, `prefer`, `require`, `verify-ca`
//! and `verify-full`, with `sslrootcert` (a PEM file, or `system`) or else the system's roots.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, all five that concern a client without client certificates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, unverified (libpq's default).
    #[default]
    Prefer,
    /// Always TLS; verified against `sslrootcert` only when one is given, as libpq does.
    Require,
    /// Always TLS, with a certificate chain to a trusted root; any host name.
    VerifyCa,
    /// Always TLS, with a trusted chain and a certificate for the host connected to.
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling.
    ///
    /// # Errors
    ///
    /// Any other value, named in the message (it is never secret).
    pub fn parse(value: &str) -> Result<SslMode, String> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
            )),
        }
    }

    /// The mode tokio-postgres enforces: whether TLS is off, optional or mandatory.
    pub fn transport(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// `sslmode` and `sslrootcert` from a `DATABASE_URL`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The mode.
    pub mode: SslMode,
    /// A PEM file of trusted roots, or `None` for the system's.
    pub root_cert: Option<PathBuf>,
}

/// A TLS setting that cannot be turned into a client configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The `sslrootcert` file cannot be read or holds no certificate.
    #[error("sslrootcert {path}: {reason}")]
    RootCert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Verification was asked for and the system has no root certificates.
    #[error("no system root certificates were found; give sslrootcert=<file>")]
    NoSystemRoots,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// What a connection checks of the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verification {
    /// Nothing: no root certificate is loaded, not even the system's.
    None,
    /// A chain to a trusted root; the host name too when `check_host`.
    Chain {
        /// `verify-full`.
        check_host: bool,
    },
}

impl TlsSettings {
    /// The connector for deadpool and tokio-postgres.
    ///
    /// Only a mode that verifies (`verify-ca`, `verify-full`, or `require` with
    /// `sslrootcert`) loads root certificates; `prefer` and `require` never read them.
    ///
    /// # Errors
    ///
    /// An unreadable `sslrootcert`, or no roots to verify against.
    pub fn connector(&self) -> Result<MakeRustlsConnect, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let config = match self.verification() {
            Verification::None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth(),
            Verification::Chain { check_host } => {
                let webpki = WebPkiServerVerifier::builder_with_provider(self.roots()?, provider)
                    .build()
                    .map_err(|e| TlsError::Rustls(e.to_string()))?;
                if check_host {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AnyHostName(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// The README's table: `disable` and `prefer` never verify, `require` only against a
    /// given `sslrootcert` (then as `verify-ca`).
    fn verification(&self) -> Verification {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => Verification::None,
            SslMode::Require if self.root_cert.is_none() => Verification::None,
            SslMode::Require | SslMode::VerifyCa => Verification::Chain { check_host: false },
            SslMode::VerifyFull => Verification::Chain { check_host: true },
        }
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        match &self.root_cert {
            Some(path) if path.as_os_str() != "system" => {
                let shown = path.display().to_string();
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| TlsError::RootCert {
                        path: shown.clone(),
                        reason: e.to_string(),
                    })?;
                let mut roots = RootCertStore::empty();
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(TlsError::RootCert {
                        path: shown,
                        reason: "holds no usable certificate".into(),
                    });
                }
                Ok(Arc::new(roots))
            }
            _ => system_roots(),
        }
    }
}

/// The ring provider, with P-256 as the first key-exchange group.
///
/// A TLS 1.3 client sends a key share for its first group only. rustls puts X25519 first, but
/// PostgreSQL up to 17 accepts only `ssl_ecdh_curve` (default `prime256v1`), so the server
/// answers with a HelloRetryRequest: one more round trip, a second ClientHello and a wasted
/// X25519 key pair on every connection. PostgreSQL 18 accepts both (`ssl_groups` default
/// `X25519:prime256v1`), and a server set to X25519 alone still gets it after one retry, as
/// before. Every group stays offered; only the first guess changes.
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![SECP256R1, X25519, SECP384R1];
    Arc::new(provider)
}

/// The system's roots, read once per process: rustls-native-certs parses every certificate
/// under /etc/ssl, and a process builds more than one connector (the pool's, the cancel
/// request's).
fn system_roots() -> Result<Arc<RootCertStore>, TlsError> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return Ok(roots.clone());
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        // Not remembered: a later connector looks again.
        return Err(TlsError::NoSystemRoots);
    }
    Ok(ROOTS.get_or_init(|| Arc::new(roots)).clone())
}

/// `prefer` and `require` without a root certificate: encrypted, but anyone's certificate is
/// accepted, exactly as libpq does. Handshake signatures are still checked.
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl fmt::Debug for NoVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoVerification")
    }
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root, whatever host name the certificate
/// names.
#[derive(Debug)]
struct AnyHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_like_libpq() {
        assert_eq!(SslMode::parse("verify-full"), Ok(SslMode::VerifyFull));
        assert_eq!(SslMode::parse("allow"), Ok(SslMode::Prefer));
        assert!(
            SslMode::parse("sometimes")
                .unwrap_err()
                .contains("`sometimes`")
        );
    }

    #[test]
    fn unreadable_root_cert_is_a_clear_error() {
        let settings = TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/ca.pem".into()),
        };
        let err = settings.connector().err().unwrap().to_string();
        assert!(
            err.starts_with("sslrootcert /nonexistent/ca.pem: "),
            "{err}"
        );
    }

    #[test]
    fn only_verifying_modes_load_roots() {
        let settings = |mode, root_cert: Option<&str>| TlsSettings {
            mode,
            root_cert: root_cert.map(PathBuf::from),
        };
        let ca = Verification::Chain { check_host: false };
        let full = Verification::Chain { check_host: true };
        for (mode, root_cert, expected) in [
            (SslMode::Disable, None, Verification::None),
            (SslMode::Prefer, None, Verification::None),
            (SslMode::Prefer, Some("/etc/ca.pem"), Verification::None),
            (SslMode::Require, None, Verification::None),
            (SslMode::Require, Some("/etc/ca.pem"), ca),
            (SslMode::Require, Some("system"), ca),
            (SslMode::VerifyCa, None, ca),
            (SslMode::VerifyFull, None, full),
            (SslMode::VerifyFull, Some("/etc/ca.pem"), full),
        ] {
            assert_eq!(
                settings(mode, root_cert).verification(),
                expected,
                "{mode:?} {root_cert:?}"
            );
        }
        // An unreadable sslrootcert is never read when nothing is verified.
        for mode in [SslMode::Disable, SslMode::Prefer] {
            settings(mode, Some("/nonexistent/ca.pem"))
                .connector()
                .unwrap();
        }
    }

    #[test]
    fn p256_is_the_first_key_share() {
        let groups: Vec<_> = provider().kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            [
                rustls::NamedGroup::secp256r1,
                rustls::NamedGroup::X25519,
                rustls::NamedGroup::secp384r1
            ]
        );
    }

    #[test]
    fn system_roots_are_read_once() {
        // Skipped on a machine without system roots.
        if let (Ok(a), Ok(b)) = (system_roots(), system_roots()) {
            assert!(Arc::ptr_eq(&a, &b));
        }
    }
}
