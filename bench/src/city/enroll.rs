//! The city's places, grid workers and handsets, written into a fresh
//! server data directory **before the server starts**, through the service
//! layer on the database directly, as the operator's command line does
//! (`gridsync_server::operator::Operator`), so that enrolling 10,000
//! handsets does not load the server that is measured:
//!
//! * the places in one `place import` (the CSV of [`super::places::csv`]);
//! * per worker, `user add` ([`Service::add_user`]), a one-time code
//!   ([`Service::issue_enrollment`]) and the handset's enrollment with it
//!   ([`Service::enroll`]: the operation behind `POST /v1/enroll`), with a
//!   fresh Ed25519 key of `client-core`'s ([`SigningKey::generate`]) that
//!   then signs the handset's every request ([`Signer`]).
//!
//! The workers are set up concurrently, so that the SQLite writer's group
//! commit gathers their transactions.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use gridsync_client_core::{Signer, SigningKey};
use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::{ActorId, Role};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::Service;
use gridsync_server_core::service::people::AddUser;
use gridsync_server_core::service::{Caller, ServiceSettings};

use super::places;
use crate::deployment::{Deployment, Seat};

/// Enrollment codes stay valid this long (the operator's default is a day).
const CODE_TTL_MS: u64 = 3_600_000;

/// One enrolled handset.
#[derive(Debug)]
pub(crate) struct Handset {
    /// Its device (actor) id.
    pub(crate) device: ActorId,
    /// Signs the handset's requests with its own key.
    pub(crate) signer: Signer,
    /// The version of the profile the enrollment answered with, which the
    /// handset sends in its pulls (as `client-core` does).
    pub(crate) profile_version: u64,
}

/// How long the setup took.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Took {
    /// The places' import.
    pub(crate) places: Duration,
    /// Users, codes and enrollments.
    pub(crate) people: Duration,
}

/// Installs `deployment` in the (not yet served) data directory `data`
/// and enrolls one handset per seat, seat `i` as device `devices[i]`.
pub(crate) fn install(
    data: &Path,
    deployment: &Deployment,
    devices: &[ActorId],
) -> anyhow::Result<(Vec<Handset>, Took)> {
    let database = Database::Embedded { data_dir: data.to_owned() };
    let op = Operator::open(&database, ServiceSettings::default())?;
    let started = Instant::now();
    op.import_places(&places::csv(deployment)).context("cannot import the city's places")?;
    let places_took = started.elapsed();

    let started = Instant::now();
    let service = op.service().clone();
    let handsets = op.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (seat, &device)) in deployment.seats.iter().zip(devices).enumerate() {
            let (service, seat) = (service.clone(), seat.clone());
            tasks.spawn(async move { (index, enroll(&service, &seat, device).await) });
        }
        let mut handsets: Vec<Option<Handset>> = (0..devices.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (index, handset) = done.context("an enrollment task panicked")?;
            handsets[index] = Some(handset?);
        }
        handsets
            .into_iter()
            .map(|h| h.context("a seat without a handset"))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    Ok((handsets, Took { places: places_took, people: started.elapsed() }))
}

/// Adds the worker of `seat`, issues them a code and enrolls `device` with it.
async fn enroll(service: &Service, seat: &Seat, device: ActorId) -> anyhow::Result<Handset> {
    let who = || format!("cannot enroll {}'s handset", seat.user);
    let new = AddUser {
        name: seat.user.clone(),
        role: Role::Worker,
        scope: Some(seat.grid.clone()),
        unit: None,
        password: None,
    };
    service.add_user(&Caller::Operator, new).await.with_context(who)?;
    let code =
        service.issue_enrollment(&Caller::Operator, &seat.user, CODE_TTL_MS).await.with_context(who)?;
    let key = SigningKey::generate().with_context(who)?;
    let request = EnrollRequest { code: code.code, device, public_key: auth::b64(key.public_key()) };
    let enrolled = service.enroll(request).await.with_context(who)?;
    Ok(Handset {
        device,
        signer: Signer::new(device, key),
        profile_version: enrolled.profile.map_or(0, |p| p.version),
    })
}
