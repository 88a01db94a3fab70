//! A record's attachments in the console: the list a record's page shows
//! ([`section`]), each file linked for download to staff who may read the
//! record (`GET /console/records/{id}/attachments/{sha256}`, audited as
//! `attachment.download` by the service, like the admin API's download).

use actix_web::{HttpResponse, web};
use gridsync_proto::{ContentHash, ErrorCode, RecordId};
use gridsync_server_core::service::attachments::AttachmentLine;
use maud::{Markup, html};

use super::super::failure::{Failure, OrPage};
use super::super::session::Admin;
use super::{enc, local_time};
use crate::web::{ApiError, AppState};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/records/{id}/attachments/{sha256}", web::get().to(download));
}

/// The attachments of record `id`: each with its type, size, name and a
/// download link, or marked not uploaded yet.
pub(super) fn section(state: &AppState, admin: &Admin, id: RecordId, lines: &[AttachmentLine]) -> Markup {
    let t = admin.lang.texts();
    html! {
        @if lines.is_empty() {
            p.muted id="no-attachments" { (t.no_attachments) }
        } @else {
            ul id="attachments" {
                @for line in lines {
                    li data-sha256=(line.sha256) data-uploaded=(line.uploaded) {
                        @if let Some(name) = &line.name { (name) " · " }
                        (line.media) " · " (kib(line.size)) " KiB"
                        @if let Some(ms) = line.uploaded_ms {
                            " · " (local_time(state, ms)) " · "
                            a href={ "/console/records/" (enc(&id.to_string())) "/attachments/" (line.sha256) } {
                                (t.download)
                            }
                        } @else {
                            " · " span.muted { (t.not_uploaded) }
                        }
                    }
                }
            }
        }
    }
}

/// Bytes as KiB, rounded up.
fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

/// `GET /console/records/{id}/attachments/{sha256}`: the file, to save.
async fn download(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Failure> {
    let lang = admin.lang;
    let (id, sha256) = path.into_inner();
    let no_such = || ApiError::new(ErrorCode::NotFound, "no such attachment");
    let id: RecordId = id.parse().map_err(|_| no_such()).or_page(lang)?;
    let hash: ContentHash = sha256.parse().map_err(|_| no_such()).or_page(lang)?;
    let file = state.service.attachment_download(&admin.caller(), id, hash).await.or_page(lang)?;
    Ok(crate::web::attachments_api::file_answer(hash, file))
}
