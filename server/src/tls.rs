//! HTTPS for the township endpoint: loading the certificate and key an
//! operator configured, and making a self-signed set for a township LAN.
//!
//! The server uses rustls with the ring crypto provider only. On a LAN
//! without a public name, [`write_self_signed`] makes a small local CA (the
//! "township CA") and a server certificate signed by it. Handsets pin the CA
//! (`ca.pem`); the CA's private key is discarded as soon as the server
//! certificate is signed, so nothing can be signed with it later, and
//! re-issuing makes a new CA that handsets must be given again.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::files;

/// Longest validity [`self_signed`] accepts, in days (ten years).
pub const MAX_DAYS: u32 = 3650;

/// Builds the rustls server configuration from a PEM certificate chain
/// (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1), with the ring
/// provider and its safe default protocol versions (TLS 1.2 and 1.3).
///
/// Errors name the file that cannot be read, is not PEM, holds no
/// certificate or key, or does not match the other.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = load_chain(cert)?;
    let key_der = load_key(key)?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("the ring provider has no safe default TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "cannot serve HTTPS with certificate {} and key {} (does the key belong to the certificate?)",
                cert.display(),
                key.display()
            )
        })
}

/// Reads every `CERTIFICATE` section of a PEM file (a regular file of at
/// most [`files::MAX_PEM_BYTES`]).
fn load_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = files::read_bounded(path, files::MAX_PEM_BYTES, "TLS certificate file")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("TLS certificate", path, e))?;
    if chain.is_empty() {
        bail!("TLS certificate file {} holds no PEM CERTIFICATE section", path.display());
    }
    Ok(chain)
}

/// Reads the first private key of a PEM file (a regular file of at most
/// [`files::MAX_PEM_BYTES`]).
fn load_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = files::read_bounded(path, files::MAX_PEM_BYTES, "TLS key file")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => anyhow::anyhow!(
            "TLS key file {} holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section)",
            path.display()
        ),
        // Never echo any part of a key file: only say what is wrong with it.
        pem::Error::Io(e) => anyhow::anyhow!("cannot read TLS key file {}: {e}", path.display()),
        _ => anyhow::anyhow!("TLS key file {} is not valid PEM", path.display()),
    })
}

fn pem_error(what: &str, path: &Path, e: pem::Error) -> anyhow::Error {
    match e {
        pem::Error::Io(e) => anyhow::anyhow!("cannot read {what} file {}: {e}", path.display()),
        e => anyhow::anyhow!("{what} file {} is not valid PEM: {e}", path.display()),
    }
}

/// Makes a township CA and a server certificate signed by it, valid for
/// `hosts` (each an IP address such as `192.168.1.10` or a DNS name such as
/// `gridsync.township.lan`) from yesterday (for handsets whose clock is
/// behind) for `days` days.
///
/// Returns `(ca_pem, cert_pem, key_pem)`: the CA certificate, the server
/// certificate alone (not a chain) and the server's PKCS#8 private key. The
/// CA's key is not returned: it is dropped here. Writes nothing.
pub fn self_signed(hosts: &[String], days: u32) -> anyhow::Result<(String, String, String)> {
    if hosts.is_empty() {
        bail!("name at least one host (an IP address or DNS name) the server is reached at");
    }
    if days == 0 || days > MAX_DAYS {
        bail!("validity must be between 1 and {MAX_DAYS} days, not {days}");
    }
    let sans = hosts.iter().map(|h| san(h)).collect::<anyhow::Result<Vec<_>>>()?;
    let today = days_since_epoch(SystemTime::now());
    // Midnight UTC of the day `days` after 1970-01-01.
    let date = |days: i64| {
        let (y, m, d) = civil_from_days(days);
        rcgen::date_time_ymd(y, m, d)
    };
    let not_before = date(today - 1);
    let not_after = date(today + i64::from(days));

    let ca_key = KeyPair::generate().context("cannot generate the CA key")?;
    // Every CA gets its own name, so that two townships' CAs (or a CA and
    // the one it replaced) never look like the same issuer.
    let ca_id = ring::digest::digest(&ring::digest::SHA256, ca_key.public_key_raw());
    let ca_id: String = ca_id.as_ref()[..4].iter().map(|b| format!("{b:02X}")).collect();
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name(&format!("gridsync township CA {ca_id} ({})", hosts[0]));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params.self_signed(&ca_key).context("cannot make the CA certificate")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::default();
    params.distinguished_name = name(&hosts[0]);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().context("cannot generate the server key")?;
    let cert = params.signed_by(&key, &issuer).context("cannot make the server certificate")?;

    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// A subject alternative name: an IP address if `host` parses as one, a
/// DNS name otherwise.
fn san(host: &str) -> anyhow::Result<SanType> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    if ServerName::try_from(host).is_err() || host.is_empty() {
        bail!("{host:?} is neither an IP address nor a valid DNS name");
    }
    let dns = host.try_into().with_context(|| format!("{host:?} is not a valid DNS name"))?;
    Ok(SanType::DnsName(dns))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "gridsync");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn days_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| (d.as_secs() / 86_400) as i64)
}

/// The proleptic Gregorian (year, month, day) of a day count since
/// 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as u8, day as u8)
}

/// What [`write_self_signed`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `DATA/tls/ca.pem`: the township CA certificate, to install on handsets.
    pub ca: PathBuf,
    /// `DATA/tls/cert.pem`: the server certificate followed by the CA
    /// certificate (the chain to give `--tls-cert`).
    pub cert: PathBuf,
    /// `DATA/tls/key.pem`: the server's private key (mode 0600 on unix), for
    /// `--tls-key`.
    pub key: PathBuf,
    /// SHA-256 fingerprint of the CA certificate, as uppercase hex pairs
    /// joined by colons, the way `openssl x509 -noout -fingerprint -sha256`
    /// prints it, for operators to compare on each handset.
    pub ca_sha256: String,
}

/// Makes a township CA and server certificate with [`self_signed`] and
/// writes them to `DATA/tls/`: `ca.pem`, `cert.pem` (server certificate then
/// CA certificate) and `key.pem` (mode 0600 on unix).
///
/// Refuses, writing nothing, when any of the three exists, unless `force`;
/// with `force` each file is replaced atomically (written beside it, then
/// renamed over it).
pub fn write_self_signed(
    data_dir: &Path,
    hosts: &[String],
    days: u32,
    force: bool,
) -> anyhow::Result<TlsFiles> {
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        ca_sha256: String::new(),
    };
    if !force {
        let existing: Vec<String> = [&files.ca, &files.cert, &files.key]
            .into_iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "{} already exist(s); refusing to overwrite (force replaces them, and every handset \
                 pinned to the old CA must then be given the new ca.pem)",
                existing.join(", ")
            );
        }
    }
    let (ca_pem, cert_pem, key_pem) = self_signed(hosts, days)?;
    let ca_der =
        CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("the CA just made is not valid PEM")?;
    create_private_dir(&dir)?;
    write_file(&files.key, key_pem.as_bytes(), true)?;
    write_file(&files.cert, format!("{cert_pem}{ca_pem}").as_bytes(), false)?;
    write_file(&files.ca, ca_pem.as_bytes(), false)?;
    Ok(TlsFiles { ca_sha256: fingerprint(&ca_der), ..files })
}

/// SHA-256 of a DER certificate as uppercase hex pairs joined by colons
/// (`AB:CD:…`), as `openssl x509 -noout -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `bytes` to a temporary file beside `path` (mode 0600 if `private`,
/// on unix), syncs it and renames it over `path`.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    written
        .and_then(|()| fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::UnixTime;

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn server_certificate_chains_to_the_township_ca_for_its_hosts_only() {
        let (ca_pem, cert_pem, key_pem) =
            self_signed(&hosts(&["127.0.0.1", "gridsync.township.lan"]), 30).expect("generated");
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM");
        let leaf = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("cert PEM");
        assert!(PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).is_ok());

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).expect("the CA is a trust anchor");
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().expect("verifier");
        let verify = |name: &str| {
            let name = ServerName::try_from(name.to_owned()).expect("name");
            verifier.verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
        };
        verify("127.0.0.1").expect("valid for its IP address");
        verify("gridsync.township.lan").expect("valid for its DNS name");
        assert!(verify("10.0.0.1").is_err(), "not valid for another address");
        assert!(verify("other.township.lan").is_err(), "not valid for another name");

        // The CA itself is not valid as a server certificate.
        let ca_as_leaf = verifier.verify_server_cert(
            &ca,
            &[],
            &ServerName::try_from("127.0.0.1").expect("name"),
            &[],
            UnixTime::now(),
        );
        assert!(ca_as_leaf.is_err());
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(self_signed(&[], 30).is_err());
        assert!(self_signed(&hosts(&["127.0.0.1"]), 0).is_err());
        assert!(self_signed(&hosts(&["127.0.0.1"]), MAX_DAYS + 1).is_err());
        let err = self_signed(&hosts(&["not a host!"]), 30).expect_err("invalid name").to_string();
        assert!(err.contains("neither an IP address nor a valid DNS name"), "{err}");
        assert!(self_signed(&hosts(&["[::1]"]), 1).is_ok());
    }

    #[test]
    fn writes_the_files_once_and_loads_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_self_signed(dir.path(), &hosts(&["127.0.0.1"]), 30, false).expect("written");
        assert_eq!(files.key, dir.path().join("tls/key.pem"));
        assert_eq!(files.ca_sha256.len(), 32 * 3 - 1);
        let ca = fs::read(&files.ca).expect("ca.pem");
        let ca_der = CertificateDer::from_pem_slice(&ca).expect("CA PEM");
        assert_eq!(files.ca_sha256, fingerprint(&ca_der));
        let chain = load_chain(&files.cert).expect("chain");
        assert_eq!(chain.len(), 2, "server certificate then CA");
        assert_eq!(chain[1], ca_der);
        server_config(&files.cert, &files.key).expect("usable by the server");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&files.key).expect("key.pem").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let err = write_self_signed(dir.path(), &hosts(&["127.0.0.1"]), 30, false)
            .expect_err("no overwrite")
            .to_string();
        assert!(err.contains("ca.pem") && err.contains("refusing to overwrite"), "{err}");
        assert_eq!(fs::read(&files.ca).expect("ca.pem"), ca, "untouched");

        let again = write_self_signed(dir.path(), &hosts(&["127.0.0.1"]), 30, true).expect("forced");
        assert_ne!(again.ca_sha256, files.ca_sha256, "a new CA");
        assert!(!dir.path().join("tls/key.pem.tmp").exists());
    }

    #[test]
    fn unusable_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = write_self_signed(dir.path(), &hosts(&["127.0.0.1"]), 30, false).expect("written");
        let missing = dir.path().join("nope.pem");
        let err = format!("{:#}", server_config(&missing, &files.key).expect_err("missing cert"));
        assert!(err.contains("cannot read TLS certificate file") && err.contains("nope.pem"), "{err}");

        let garbage = dir.path().join("garbage.pem");
        fs::write(&garbage, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").expect("write");
        let err = format!("{:#}", server_config(&garbage, &files.key).expect_err("bad cert"));
        assert!(err.contains("garbage.pem") && err.contains("not valid PEM"), "{err}");

        let err = format!("{:#}", server_config(&files.cert, &files.ca).expect_err("a cert is no key"));
        assert!(err.contains("ca.pem") && err.contains("no PEM private key"), "{err}");

        let other =
            write_self_signed(&dir.path().join("other"), &hosts(&["127.0.0.1"]), 30, false).expect("other");
        let err = format!("{:#}", server_config(&files.cert, &other.key).expect_err("mismatch"));
        assert!(err.contains("does the key belong to the certificate"), "{err}");
    }
}
