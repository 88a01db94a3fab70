//! Attachments over HTTP (ADR 0033): the devices' signed upload and fetch
//! messages, and the staff's list and download of a record's attachments.
//!
//! | method | path | body / query | → | who |
//! |---|---|---|---|---|
//! | POST | `/v1/attachments/status` | `UploadQuery` envelope | `UploadStatus` | a device whose user may see the record |
//! | POST | `/v1/attachments/upload` | `UploadChunk` envelope | `UploadStatus` | the same |
//! | POST | `/v1/attachments/fetch` | `FetchRequest` envelope | `FetchPiece` | the same |
//! | GET | `/v1/admin/records/{id}/attachments` | | JSON list, with whether each is uploaded | staff who may read the record |
//! | GET | `/v1/admin/records/{id}/attachments/{sha256}` | | the file, as its media type | the same; audited |
//!
//! Device answers are sent as they are (`Content-Encoding: identity`):
//! photos and PDFs do not compress, and the chunk bytes are already the
//! bulk of the answer. Staff downloads are sent `no-store`, with
//! `X-Content-Type-Options: nosniff` and as an attachment, so a browser
//! neither caches nor renders a hostile file in the console's origin.

use actix_web::http::header::{
    self, CacheControl, CacheDirective, ContentDisposition, DispositionParam, DispositionType,
};
use actix_web::{HttpResponse, web};
use gridsync_proto::wire::attachments::{
    FETCH_PATH, FetchRequest, STATUS_PATH, UPLOAD_PATH, UploadChunk, UploadQuery,
};
use gridsync_proto::wire::{self, CONTENT_TYPE, Message};
use gridsync_proto::{ContentHash, ErrorCode};
use gridsync_server_core::service::attachments::Download;

use super::admin_api::Staff;
use super::error::ApiError;
use super::{AppState, Signed, method_not_allowed, openapi, same_device};

/// Registers the attachment routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(STATUS_PATH).route(web::post().to(status)).default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(UPLOAD_PATH).route(web::post().to(upload)).default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(FETCH_PATH).route(web::post().to(fetch)).default_service(web::to(method_not_allowed)),
    )
    .service(web::resource("/v1/admin/records/{id}/attachments").route(web::get().to(list)))
    .service(web::resource("/v1/admin/records/{id}/attachments/{sha256}").route(web::get().to(download)));
}

/// A device answer, uncompressed.
fn answer<M: Message>(m: &M) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .body(wire::encode(m))
}

#[utoipa::path(
    post,
    path = "/v1/attachments/status",
    tag = "attachments",
    summary = "Where an upload stands",
    description = "A device asks whether the server holds a file a record it may see references (then \
                   nothing is sent) and how many bytes of it the server acknowledged (the next chunk's \
                   offset). Refused with `not_found` for a record the device may not see or that does not \
                   reference the file, `payload_too_large` for a file over the server's limit, \
                   `quota_exceeded` when the device's daily allowance is spent.",
    params(openapi::DeviceHeaders),
    request_body(content = openapi::Envelope, content_type = "application/x-gridsync",
                 description = "A signed `UploadQuery` envelope."),
    security(("device_signature" = [])),
    responses(
        (status = 200, description = "An `UploadStatus` envelope.",
         content_type = "application/x-gridsync", body = openapi::Envelope),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 408, response = openapi::Refused), (status = 409, response = openapi::Refused),
        (status = 415, response = openapi::Refused), (status = 422, response = openapi::Refused),
        (status = 429, response = openapi::Refused),
    )
)]
async fn status(state: web::Data<AppState>, signed: Signed<UploadQuery>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: query, .. } = signed;
    same_device(from.device, query.device)?;
    let status = state.service.upload_status(query, from.user).await?;
    Ok(answer(&status))
}

#[utoipa::path(
    post,
    path = "/v1/attachments/upload",
    tag = "attachments",
    summary = "Send a chunk of a file",
    description = "At most 256 KiB of a file, at the offset the server acknowledged last, with the \
                   chunk's SHA-256; answered once the chunk is durable. With the last chunk the whole \
                   file is checked against its record's reference (SHA-256, media type from the bytes). \
                   Refused with `chunk_mismatch` (the chunk's bytes are not its hash), `upload_offset` \
                   (not at the acknowledged offset: ask for the status), `content_mismatch` (the whole \
                   does not match: the upload is dropped), `quota_exceeded`.",
    params(openapi::DeviceHeaders),
    request_body(content = openapi::Envelope, content_type = "application/x-gridsync",
                 description = "A signed `UploadChunk` envelope."),
    security(("device_signature" = [])),
    responses(
        (status = 200, description = "An `UploadStatus` envelope: the new offset, or complete.",
         content_type = "application/x-gridsync", body = openapi::Envelope),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 408, response = openapi::Refused), (status = 409, response = openapi::Refused),
        (status = 415, response = openapi::Refused), (status = 422, response = openapi::Refused),
        (status = 429, response = openapi::Refused),
    )
)]
async fn upload(state: web::Data<AppState>, signed: Signed<UploadChunk>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: chunk, .. } = signed;
    same_device(from.device, chunk.device)?;
    let status = state.service.upload_chunk(chunk, from.user).await?;
    Ok(answer(&status))
}

#[utoipa::path(
    post,
    path = "/v1/attachments/fetch",
    tag = "attachments",
    summary = "Fetch a piece of a file",
    description = "At most 256 KiB of a stored file a record the device may see references, from an \
                   offset, with the file's size and media type. Refused with `not_found` for a record the \
                   device may not see, or a file not uploaded yet.",
    params(openapi::DeviceHeaders),
    request_body(content = openapi::Envelope, content_type = "application/x-gridsync",
                 description = "A signed `FetchRequest` envelope."),
    security(("device_signature" = [])),
    responses(
        (status = 200, description = "A `FetchPiece` envelope.",
         content_type = "application/x-gridsync", body = openapi::Envelope),
        (status = 400, response = openapi::Refused), (status = 401, response = openapi::Refused),
        (status = 403, response = openapi::Refused), (status = 404, response = openapi::Refused),
        (status = 408, response = openapi::Refused), (status = 409, response = openapi::Refused),
        (status = 415, response = openapi::Refused), (status = 429, response = openapi::Refused),
    )
)]
async fn fetch(state: web::Data<AppState>, signed: Signed<FetchRequest>) -> Result<HttpResponse, ApiError> {
    let Signed { from, message: request, .. } = signed;
    same_device(from.device, request.device)?;
    let piece = state.service.fetch_piece(request, from.user).await?;
    Ok(answer(&piece))
}

#[utoipa::path(
    get,
    path = "/v1/admin/records/{id}/attachments",
    tag = "attachments",
    summary = "A record's attachments",
    description = "Every file the record references, with whether it is on the server yet (a file stays \
                   on the phone that attached it until that phone syncs).",
    params(("id" = String, Path, description = "The record's id.")),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The attachments.",
         body = Vec<gridsync_server_core::service::attachments::AttachmentLine>),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
        (status = 404, response = openapi::Refused),
    )
)]
async fn list(
    state: web::Data<AppState>,
    who: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_record(&id)?;
    Ok(HttpResponse::Ok().json(state.service.record_attachments(&who.caller(), id).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/records/{id}/attachments/{sha256}",
    tag = "attachments",
    summary = "Download an attachment",
    description = "The file, as its media type, to save (`Content-Disposition: attachment`). Every \
                   download is audited (`attachment.download`).",
    params(
        ("id" = String, Path, description = "The record's id."),
        ("sha256" = String, Path, description = "The file's SHA-256, 64 hex digits."),
    ),
    security(("staff_session" = [])),
    responses(
        (status = 200, description = "The file.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, response = openapi::Refused), (status = 403, response = openapi::Refused),
        (status = 404, response = openapi::Refused),
    )
)]
async fn download(
    state: web::Data<AppState>,
    who: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, sha256) = path.into_inner();
    let id = parse_record(&id)?;
    let hash: ContentHash = sha256
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, "the record has no such attachment"))?;
    let file = state.service.attachment_download(&who.caller(), id, hash).await?;
    Ok(file_answer(hash, file))
}

/// A file for staff to save: as its media type, `Content-Disposition:
/// attachment` under its hash's name (the name the worker gave it is theirs
/// to see in the list, not to be trusted as a header), never cached nor
/// sniffed into something a browser would render, sent as it is.
pub(crate) fn file_answer(hash: ContentHash, file: Download) -> HttpResponse {
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(format!("{}.{}", hash.to_hex(), file.media.extension()))],
    };
    HttpResponse::Ok()
        .content_type(file.media.mime())
        .insert_header(disposition)
        .insert_header(CacheControl(vec![CacheDirective::NoStore, CacheDirective::Private]))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .body(file.bytes)
}

/// A record id from the path, or `not_found`.
fn parse_record(text: &str) -> Result<gridsync_proto::RecordId, ApiError> {
    text.parse().map_err(|_| ApiError::new(ErrorCode::NotFound, "no such record"))
}
