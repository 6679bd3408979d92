//! Written text for rustls errors, as a TLS error's message gives them.

/// Turns `CamelCase` into `camel case`.
fn words(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Written text for a rustls error.
pub(super) fn describe(err: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => {
                "the server's certificate was issued by an unknown authority".into()
            }
            C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is not valid for this host name (name mismatch)".into()
            }
            C::Revoked => "the server's certificate has been revoked".into(),
            C::BadSignature => "the server's certificate has a bad signature".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "the server's certificate is not meant for servers".into()
            }
            C::BadEncoding => "the server's certificate is malformed".into(),
            C::Other(other) => {
                let text = other.to_string();
                if text.contains("CaUsedAsEndEntity") {
                    "the server presented a CA certificate as its own certificate".into()
                } else {
                    format!("the server's certificate is invalid: {}", words(&text))
                }
            }
            other => format!(
                "the server's certificate is invalid: {}",
                words(&format!("{other:?}"))
            ),
        },
        rustls::Error::AlertReceived(alert) => {
            format!(
                "the server sent the alert \"{}\"",
                words(&format!("{alert:?}"))
            )
        }
        rustls::Error::NoCertificatesPresented => "the server presented no certificate".into(),
        rustls::Error::PeerIncompatible(p) => {
            format!("the server is incompatible: {}", words(&format!("{p:?}")))
        }
        rustls::Error::PeerMisbehaved(p) => {
            format!("the server misbehaved: {}", words(&format!("{p:?}")))
        }
        rustls::Error::InvalidMessage(m) => {
            format!(
                "the server sent an invalid message: {}",
                words(&format!("{m:?}"))
            )
        }
        rustls::Error::General(text) => text.clone(),
        other => other.to_string(),
    }
}
