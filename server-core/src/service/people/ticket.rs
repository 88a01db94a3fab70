//! Enrollment tickets: the server's address and a one-time code, shown as a
//! QR code for a handset to scan ([`EnrollmentTicket`]).
//!
//! Everything that can fail is done before the code is stored: the server
//! URL is checked ([`server_url`]) and the QR code rendered first, so a
//! refused request leaves neither a live code nor an audit row.

use gridsync_proto::EnrollmentTicket;

use super::{check_ttl, new_code};
use crate::error::{CoreResult, Refusal};
use crate::service::{Caller, Service};

/// Longest server URL a ticket may carry, in bytes. A ticket is a QR code
/// scanned from a screen or a sheet of paper: it must stay small enough
/// to scan (a few hundred bytes), and far below the 2,331 bytes a QR code
/// holds at all.
pub const MAX_SERVER_URL_BYTES: usize = 512;

/// An issued enrollment code with its ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTicket {
    /// The server's address and the one-time code.
    pub ticket: EnrollmentTicket,
    /// When the code expires (Unix ms).
    pub expires_ms: u64,
    /// The ticket's QR code, as an SVG document.
    pub qr_svg: String,
}

/// Checks a server URL for a ticket: an absolute `http://` or `https://`
/// URL with a host, at most [`MAX_SERVER_URL_BYTES`] bytes, without user
/// name, password, query or fragment (the handset appends the API's paths
/// to it). Returns it as given. The refusal names the field `server_url`.
pub fn server_url(text: &str) -> Result<&str, Refusal> {
    let refuse = |why: &str| {
        Refusal::invalid(format!(
            "server_url {why}; give the server's address, e.g. https://192.168.1.10:8443"
        ))
        .field("server_url")
    };
    if text.len() > MAX_SERVER_URL_BYTES {
        return Err(refuse(&format!("is longer than {MAX_SERVER_URL_BYTES} bytes")));
    }
    let url = url::Url::parse(text).map_err(|_| refuse("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("must not carry a query or fragment"));
    }
    Ok(text)
}

/// The QR code of an enrollment ticket (its JSON), as an SVG document.
pub fn qr_svg(ticket: &EnrollmentTicket) -> Result<String, Refusal> {
    let payload = serde_json::to_string(ticket)
        .map_err(|_| Refusal::invalid("the enrollment ticket cannot be written as JSON"))?;
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| Refusal::invalid("the enrollment ticket does not fit a QR code").field("server_url"))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(256, 256).quiet_zone(true).build())
}

impl Service {
    /// Issues a one-time enrollment code for `user`, valid for `ttl_ms`, as
    /// a ticket for `server` with its QR code: the lifetime and the URL are
    /// checked and the QR code rendered before anything is stored, so a
    /// refusal leaves no code behind (and, for a bad input, no audit row).
    /// The admin API, the console and the operator's `enroll` all issue
    /// codes here.
    pub async fn issue_ticket(
        &self,
        caller: &Caller,
        user: &str,
        ttl_ms: u64,
        server: &str,
    ) -> CoreResult<IssuedTicket> {
        check_ttl(ttl_ms)?;
        let ticket = EnrollmentTicket { server: server_url(server)?.to_owned(), code: new_code()? };
        let qr_svg = qr_svg(&ticket)?;
        let issued = self.store_code(caller, user, ttl_ms, ticket.code.clone()).await?;
        Ok(IssuedTicket { ticket, expires_ms: issued.expires_ms, qr_svg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_absolute_http_and_bounded() {
        for good in ["https://192.168.1.10:8443", "http://gridsync.lan", "https://g.example.cn/sync"] {
            assert_eq!(server_url(good), Ok(good));
        }
        let long = format!("https://g.lan/{}", "a".repeat(MAX_SERVER_URL_BYTES));
        for bad in [
            "",
            "192.168.1.10:8443",
            "javascript:alert(1)",
            "ftp://g.lan",
            "file:///etc/passwd",
            "https://user:pw@g.lan",
            "https://g.lan/?x=1",
            "https://g.lan/#x",
            long.as_str(),
        ] {
            let refusal = server_url(bad).expect_err(bad);
            assert_eq!(refusal.field.as_deref(), Some("server_url"), "{bad}");
            assert!(refusal.message.starts_with("server_url "), "{}", refusal.message);
        }
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let ticket =
            EnrollmentTicket { server: "https://192.168.1.10:8443".into(), code: "AAAAA-BBBBB".into() };
        let svg = qr_svg(&ticket).expect("svg");
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        // The longest URL allowed still fits.
        let server = format!("https://g.lan/{}", "a".repeat(MAX_SERVER_URL_BYTES - 14));
        assert_eq!(server.len(), MAX_SERVER_URL_BYTES);
        let ticket = EnrollmentTicket { server: server_url(&server).expect("bounded").to_owned(), ..ticket };
        assert!(qr_svg(&ticket).is_ok());
    }
}
