//! Trust in a certificate the user handed over as a root that is itself an end
//! entity: the server's own self-signed certificate (made by `openssl req -x509`,
//! which marks it `CA:TRUE`, or `CA:FALSE`), or a leaf issued by someone else.
//!
//! webpki checks a chain from the server's certificate up to a trust anchor, so it
//! refuses such a certificate: a self-signed `CA:TRUE` one as "a CA used as an end
//! entity", a leaf as issued by an unknown authority. curl (with OpenSSL) accepts
//! both, and it is the first thing a developer with a local HTTPS server tries.
//!
//! [`HandedOver`] wraps the standard [`WebPkiServerVerifier`]: everything is verified
//! by it first, as without this type. Only when it refuses, and the server presented
//! exactly (byte for byte) one of the certificates the user added, is that
//! certificate accepted, after its host name (by webpki) and its validity dates are
//! checked. The handshake's signatures are always checked by the standard verifier,
//! with the presented certificate's key, so the server must hold its private key.
//!
//! webpki does not expose a certificate's validity dates; reading them takes a walk
//! over the start of the DER `TBSCertificate` (RFC 5280 §4.1), done here rather than
//! with a whole X.509 parser as a new dependency. The certificate was already parsed
//! by webpki when it gets here, and the walk checks every length it reads.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// The standard verifier, plus explicit trust in the end-entity certificates the
/// user handed over as roots. See the [module docs](self).
#[derive(Debug)]
pub(super) struct HandedOver {
    inner: Arc<WebPkiServerVerifier>,
    certs: Vec<CertificateDer<'static>>,
}

impl HandedOver {
    pub(super) fn new(
        inner: Arc<WebPkiServerVerifier>,
        certs: Vec<CertificateDer<'static>>,
    ) -> HandedOver {
        HandedOver { inner, certs }
    }

    /// Accepts `end_entity`, one of the handed-over certificates, when it is valid
    /// for `server_name` and at `now`.
    fn verify_handed_over(
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let Some((not_before, not_after)) = validity(end_entity.as_ref()) else {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            ));
        };
        let now = now.as_secs();
        if now < not_before {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            ));
        }
        if now > not_after {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
        }
        Ok(ServerCertVerified::assertion())
    }
}

impl ServerCertVerifier for HandedOver {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(refused) => refused,
        };
        if !self.certs.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Err(refused);
        }
        HandedOver::verify_handed_over(end_entity, server_name, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// One DER element at the start of `input`: its tag, its contents and what follows.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// A certificate's `notBefore` and `notAfter`, in seconds since the Unix epoch.
fn validity(der: &[u8]) -> Option<(u64, u64)> {
    let (SEQUENCE, certificate, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, after) = element(rest)?;
    if tag == VERSION {
        rest = after;
    }
    // serialNumber, signature, issuer
    for expected in [INTEGER, SEQUENCE, SEQUENCE] {
        let (tag, _, after) = element(rest)?;
        if tag != expected {
            return None;
        }
        rest = after;
    }
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (tag, not_before, after) = element(validity)?;
    let not_before = time(tag, not_before)?;
    let (tag, not_after, _) = element(after)?;
    Some((not_before, time(tag, not_after)?))
}

/// A `UTCTime` (`YYMMDDHHMMSSZ`) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`), as RFC 5280
/// §4.1.2.5 requires them, in seconds since the Unix epoch.
fn time(tag: u8, text: &[u8]) -> Option<u64> {
    let digits = |range: std::ops::Range<usize>| -> Option<u64> {
        let part = text.get(range)?;
        part.iter().try_fold(0u64, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
        })
    };
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 13) => {
            let yy = digits(0..2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (GENERALIZED_TIME, 15) => (digits(0..4)?, 4),
        _ => return None,
    };
    if text.last() != Some(&b'Z') {
        return None;
    }
    let month = digits(rest..rest + 2)?;
    let day = digits(rest + 2..rest + 4)?;
    let hour = digits(rest + 4..rest + 6)?;
    let minute = digits(rest + 6..rest + 8)?;
    let second = digits(rest + 8..rest + 10)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 || year < 1970 {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar
/// (`year` ≥ 1970).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    // Count years from March, so that the leap day ends a year.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let year_of_era = y % 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_unix_seconds() {
        assert_eq!(time(UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(time(UTC_TIME, b"000229120000Z"), Some(951_825_600));
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(
            time(GENERALIZED_TIME, b"20500101000000Z"),
            Some(2_524_608_000)
        );
        assert_eq!(
            time(GENERALIZED_TIME, b"21000301000000Z"),
            Some(4_107_542_400)
        );
        for bad in [
            &b"700101000000"[..],
            b"701301000000Z",
            b"7001010000a0Z",
            b"",
            b"7001010000000Z",
        ] {
            assert_eq!(
                time(UTC_TIME, bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(time(0x04, b"700101000000Z"), None);
    }

    #[test]
    fn truncated_or_odd_der_is_none_not_a_panic() {
        assert_eq!(validity(&[]), None);
        assert_eq!(validity(&[0x30]), None);
        assert_eq!(validity(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
        assert_eq!(validity(&[0x30, 0x82, 0xff, 0xff, 0x30]), None);
        assert_eq!(validity(&[0x30, 0x02, 0x30, 0x00]), None);
    }

    #[test]
    fn validity_of_a_generated_certificate() {
        let leaf = towline_test::tls::TestCa::ca_as_leaf(&["localhost"]);
        let (not_before, not_after) = validity(leaf.cert_der.as_ref()).expect("validity");
        let now = UnixTime::now().as_secs();
        // towline-test makes it valid from yesterday for a year.
        assert!(
            not_before < now && now < not_after,
            "{not_before} {now} {not_after}"
        );
        assert!(not_after - not_before > 300 * 86_400);
    }
}
