//! The machine-readable description of the HTTP API: an OpenAPI 3.1
//! document built by `utoipa` from the `#[utoipa::path]` attributes on the
//! handlers and the `ToSchema` derives on the types they take and answer
//! (ADR 0029), served unauthenticated at `GET /v1/openapi.json`.
//!
//! Every route that [`super::configure`] registers, except the console's
//! HTML pages (`/`, `/console/...`), is described: a route added without
//! its description fails the test `the_document_lists_every_registered_route`
//! (server/tests/openapi.rs). To describe a new route, put
//! `#[utoipa::path(...)]` on its handler (see its neighbours) and add the
//! handler to [`ApiDoc`]'s `paths(...)` list below, the one list of them.
//!
//! Two kinds of caller are described as security schemes:
//! - `staff_session`: the bearer token of `POST /v1/admin/login`, on every
//!   admin route;
//! - `device_signature`: a device's Ed25519 signature
//!   (`x-gridsync-signature`) over the method, path, time, nonce and body,
//!   with it and the device, time and nonce headers as parameters, on push,
//!   pull and the attachment messages, whose bodies are binary `application/x-gridsync` envelopes.
//!
//! Every refusal is the JSON [`ErrorBody`] with a stable [`ErrorCode`]; the
//! statuses each route may answer are listed on it, and [`CommonRefusals`]
//! adds `500` (`internal`) and `503` (`unavailable`) to every route, and
//! `413` (`payload_too_large`) to every route that takes a body.

use actix_web::HttpResponse;
use gridsync_proto::{ErrorBody, ErrorCode};
use gridsync_server_core::storage::MonthLockHead;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{KnownFormat, Ref, RefOr, SchemaFormat};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use super::{admin_api, attachments_api, disputes_api, ledgers_api, reports_api};

/// The document's description of the API: every described route, in one
/// list (`paths(...)`). Add a new route's handler here.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "gridsync",
        description = "The township sync endpoint (signed devices) and the admin API (staff \
                       sessions). Every refusal is a JSON `ErrorBody` with a stable `code`."
    ),
    paths(
        // Devices.
        super::push,
        super::pull,
        super::enroll,
        attachments_api::status,
        attachments_api::upload,
        attachments_api::fetch,
        // Anyone.
        super::health,
        crate::metrics::scrape,
        openapi_json,
        // Staff: people, devices, audit (admin_api.rs).
        admin_api::login,
        admin_api::logout,
        admin_api::change_own_password,
        admin_api::set_password,
        admin_api::list_users,
        admin_api::add_user,
        admin_api::assign,
        admin_api::deactivate,
        admin_api::issue,
        admin_api::list_devices,
        admin_api::revoke,
        admin_api::verify,
        // Staff: places and units (admin_api/places.rs).
        admin_api::places::list_places,
        admin_api::places::add_place,
        admin_api::places::import_places,
        admin_api::places::move_place,
        admin_api::places::list_units,
        admin_api::places::add_unit,
        admin_api::places::move_unit,
        admin_api::places::import_units,
        // Staff: reports, ledgers, the dispute desk.
        reports_api::daily,
        ledgers_api::month,
        ledgers_api::ranking,
        ledgers_api::locks,
        ledgers_api::lock,
        ledgers_api::corrections,
        ledgers_api::feed,
        disputes_api::list,
        disputes_api::one,
        disputes_api::resolve,
        disputes_api::step,
        attachments_api::list,
        attachments_api::download,
    ),
    components(schemas(ErrorBody, ErrorCode), responses(Refused)),
    modifiers(&SecuritySchemes, &CommonRefusals),
    tags(
        (name = "sync", description = "Signed devices: push and pull `application/x-gridsync` envelopes."),
        (name = "enrollment", description = "A device enrolls with a one-time code."),
        (name = "service", description = "Health and this document."),
        (name = "admin", description = "Staff sessions, users, devices and the audit log."),
        (name = "places", description = "The hierarchy's places and units (departments)."),
        (name = "reports", description = "Reporting completeness."),
        (name = "ledgers", description = "The merged ledgers, month locks and the change feed."),
        (name = "disputes", description = "The dispute desk."),
        (name = "attachments", description = "Photos and PDFs records reference: devices' chunked uploads \
                                               and fetches, staff lists and downloads."),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "service",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this server's API.", body = Object))
)]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// A refusal: a stable code and a message for people (never personal data).
#[derive(Debug, ToResponse)]
#[response(description = "Refused: a stable `code` (see `ErrorCode`) and a message for people.")]
pub struct Refused(#[allow(dead_code, reason = "only its schema is used")] ErrorBody);

/// A gridsync message: postcard in a versioned `GS` envelope
/// (`gridsync_proto::wire`), sent as `application/x-gridsync`.
#[derive(Debug)]
pub struct Envelope;

impl PartialSchema for Envelope {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("A gridsync message: postcard in a versioned `GS` envelope."))
            .into()
    }
}

impl ToSchema for Envelope {}

/// A file to download (an XLSX workbook).
#[derive(Debug)]
pub struct Download;

impl PartialSchema for Download {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Download {}

/// The headers a device signs a sync request with (the signature is also
/// the `device_signature` security scheme).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code, reason = "described, not read: the Signed extractor reads the headers")]
pub(crate) struct DeviceHeaders {
    /// The enrolled device's id.
    #[serde(rename = "x-gridsync-device")]
    #[param(value_type = String, format = "uuid")]
    pub(crate) device: String,
    /// The device's clock when it signed, Unix ms; refused (`stale_timestamp`) when too far
    /// from the server's.
    #[serde(rename = "x-gridsync-time")]
    pub(crate) time: u64,
    /// 16 random bytes as 32 hex digits, never reused (`replayed_request`).
    #[serde(rename = "x-gridsync-nonce")]
    #[param(pattern = "^[0-9a-f]{32}$")]
    pub(crate) nonce: String,
    /// The Ed25519 signature (URL-safe base64 without padding) over the method, path, time,
    /// nonce and body as sent: the `device_signature` security scheme.
    #[serde(rename = "x-gridsync-signature")]
    #[param(pattern = "^[A-Za-z0-9_-]{86}$")]
    pub(crate) signature: String,
}

/// The security schemes: staff bearer sessions and device signatures.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The `token` of `POST /v1/admin/login`, as `Authorization: Bearer TOKEN`. \
                         It expires (`expires_ms`) and ends at `POST /v1/admin/logout`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                gridsync_proto::auth::HEADER_SIGNATURE,
                "An enrolled device's Ed25519 signature (URL-safe base64, no padding) over the \
                 method, path, `x-gridsync-time`, `x-gridsync-nonce` and the body as sent, with \
                 the key it enrolled (see docs/adr/0009-device-authentication.md).",
            ))),
        );
    }
}

/// Adds `500 internal` and `503 unavailable` to every operation (any route
/// can fail on the server's side, and nothing of the request is applied
/// then), and `413 payload_too_large` to every one that takes a body.
#[derive(Debug)]
struct CommonRefusals;

impl Modify for CommonRefusals {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
            ];
            for operation in operations.into_iter().flatten() {
                let takes_a_body = operation.request_body.is_some();
                let statuses = ["500", "503"].into_iter().chain(takes_a_body.then_some("413"));
                for status in statuses {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Refused")));
                }
            }
        }
    }
}

// The shapes of answers that handlers build as JSON in place: described
// here so the handlers stay as they are. server/tests/openapi.rs checks
// each against the live answers (schemathesis' response conformance).

/// `POST /v1/admin/login`: a new session.
#[derive(Serialize, ToSchema)]
pub(crate) struct Session {
    /// The bearer token for every other admin call.
    token: String,
    /// When the session ends (Unix ms).
    expires_ms: u64,
    /// The user's name.
    user: String,
    /// Their role.
    role: gridsync_proto::Role,
    /// Their place (`""`: the whole deployment).
    scope: String,
    /// The password is one-time: the session is restricted to
    /// `/v1/admin/password` and `/v1/admin/logout` until it is changed.
    must_change_password: bool,
}

/// `POST /v1/admin/password`: one's own password changed.
#[derive(Serialize, ToSchema)]
pub(crate) struct PasswordChanged {
    /// The caller's name.
    user: String,
    /// How many of their other sessions ended.
    sessions_ended: u64,
}

/// `POST /v1/admin/users/{name}/password`: another's password set.
#[derive(Serialize, ToSchema)]
pub(crate) struct PasswordSet {
    /// The user's name.
    user: String,
    /// Always `true`: they must change it at their next login.
    one_time: bool,
    /// How many of their sessions ended.
    sessions_ended: u64,
    /// The generated password, shown once (only when none was given).
    password: Option<String>,
}

/// `POST /v1/admin/users/{name}/deactivate`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Deactivated {
    /// How many of the user's devices were revoked with them.
    devices_revoked: u64,
}

/// `POST /v1/admin/enrollments`: a one-time code and its QR code.
#[derive(Serialize, ToSchema)]
pub(crate) struct IssuedEnrollment {
    /// The one-time code.
    code: String,
    /// When it expires (Unix ms).
    expires_ms: u64,
    /// What the QR code holds.
    ticket: gridsync_proto::EnrollmentTicket,
    /// The QR code, an SVG document.
    qr_svg: String,
}

/// A device as the admin API shows it.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeviceView {
    /// Its id.
    id: gridsync_proto::ActorId,
    /// Its user.
    user: String,
    /// When it enrolled (Unix ms).
    enrolled_ms: u64,
    /// When it was revoked (Unix ms), if it was.
    revoked_ms: Option<u64>,
    /// Whether it was ordered to erase its store.
    wipe: bool,
    /// When it last pushed (Unix ms), if ever.
    last_push_ms: Option<u64>,
    /// How many changes it has pushed.
    changes: u64,
}

/// `POST /v1/admin/devices/{id}/revoke`.
#[derive(Serialize, ToSchema)]
pub(crate) struct RevokedDevice {
    /// The device revoked.
    revoked: gridsync_proto::ActorId,
    /// Whether it was ordered to erase its store.
    wipe: bool,
}

/// `GET /v1/admin/audit/verify`: whether the hash-chained audit log holds.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "described here, answered as JSON by the handler")]
pub(crate) enum AuditVerdict {
    /// Every link holds.
    Intact {
        /// `true`.
        intact: bool,
        /// Rows checked.
        rows: u64,
        /// The last row's hash (hex): keep it elsewhere to detect truncation.
        head: String,
    },
    /// A link is broken.
    Broken {
        /// `false`.
        intact: bool,
        /// The first row whose link does not hold.
        broken_seq: i64,
        /// What is wrong with it.
        reason: String,
    },
}

/// `POST /v1/admin/ledgers/locks`.
#[derive(Serialize, ToSchema)]
pub(crate) struct LockAnswer {
    /// The lock of the place asked for (the one there was, if it was locked already).
    lock: MonthLockHead,
    /// How many places' months this call locked (0: it was locked already).
    places_locked: u64,
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`, or `unavailable` when the database cannot be used.
    #[schema(pattern = "^(ok|unavailable)$")]
    status: String,
    /// The server's version.
    version: String,
    /// The newest sync protocol version it speaks.
    protocol: u8,
    /// The storage backend (`sqlite`, `postgres`).
    storage: String,
    /// Where attachment bytes live (`fs`, `s3`).
    blobs: String,
    /// Why it is not ready (only with `unavailable`): `database_unreachable`,
    /// `database_not_writable`, `database_timeout` or `blobs_unavailable`.
    #[schema(pattern = "^(database_unreachable|database_not_writable|database_timeout|blobs_unavailable)$")]
    reason: Option<String>,
}

/// `POST /v1/admin/disputes/{id}/resolve`: settle one field's conflict,
/// with `pick` (a competing value's id) or `value` (a new value; `null`
/// clears the field): exactly one of them.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResolveBody {
    /// The field in conflict.
    field: String,
    /// The ids (`DEVICE:COUNTER`) of every competing value the caller was shown.
    seen: Vec<String>,
    /// The id of the competing value to keep.
    pick: Option<String>,
    /// A new value instead (any JSON; `null` clears the field).
    value: Option<serde_json::Value>,
}

/// `POST /v1/admin/places/{code}/move`.
#[derive(Serialize, ToSchema)]
pub(crate) struct MoveBody {
    /// The new parent's code; `null` (or `""`) for the top of the deployment. Required.
    parent: Option<String>,
}

/// Every described operation, as `(METHOD, /path/{param})`, for the test
/// that compares them with the registered routes.
pub fn operations() -> Vec<(String, String)> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
            ("HEAD", &item.head),
        ];
        for (method, op) in methods {
            if op.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out.sort();
    out
}
