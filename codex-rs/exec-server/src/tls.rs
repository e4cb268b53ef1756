//! What the server's and the client's TLS set-up share: the crypto provider, named rather
//! than left to crate features (rustls picks one implicitly only while exactly one is
//! compiled in), and reading certificates from PEM files.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// rustls on *ring*.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in the PEM file `path`, in order; an error (as a message for the
/// caller to put in context) when the file cannot be read or holds none.
pub(crate) fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|err| err.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| err.to_string())?;
    if certificates.is_empty() {
        return Err("no PEM certificate in the file".to_string());
    }
    Ok(certificates)
}
