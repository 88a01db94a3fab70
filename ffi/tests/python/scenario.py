"""Two handsets driven through the gridsync FFI from Python, against a live
township server (started by ffi/tests/python.rs, which generates the
bindings and passes everything in environment variables).

The worker li (grid 530102001-01) uses the built-in HTTP transport; the
township admin wang uses a Python transport (urllib) through the
ForeignTransport trait. Prints a "CHECK ..." line after each stage and
"SCENARIO OK" at the end; any failure is an exception and a non-zero exit.
"""

import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request

import gridsync_ffi as g
from gridsync_ffi import GridError, GridStore

print("gridsync-ffi", g.core_version(), flush=True)
print("CHECK bindings loaded", flush=True)

URL = os.environ["GRIDSYNC_URL"]
TMP = os.environ["GRIDSYNC_TMP"]
GRID = os.environ["GRIDSYNC_GRID"]
TOWNSHIP = os.environ["GRIDSYNC_TOWNSHIP"]
PARTY = "张三"  # personal data: must never appear in an error text
OTHER_PARTY = "李四"
ID_NUMBER = "620802199001011234"

# Every GridError text the scenario sees, checked for personal data at the end.
ERROR_TEXTS = []


def check(line):
    print("CHECK " + line, flush=True)


def now_ms():
    return int(time.time() * 1000)


def expect_error(kind, call, *args, **kwargs):
    """Runs call and returns the GridError of class `kind` it raises."""
    try:
        call(*args, **kwargs)
    except GridError as e:
        ERROR_TEXTS.append(str(e))
        ERROR_TEXTS.append(repr(e))
        if not isinstance(e, kind):
            raise AssertionError("expected %s, got %r" % (kind.__name__, e))
        return e
    raise AssertionError("expected %s, the call succeeded" % kind.__name__)


class UrllibTransport(g.ForeignTransport):
    """The app's own HTTP stack, as an Android app would use OkHttp."""

    def __init__(self):
        self.requests = 0

    def post(self, url, content_type, headers, body):
        self.requests += 1
        request = urllib.request.Request(url, data=bytes(body), method="POST")
        request.add_header("Content-Type", content_type)
        for header in headers:
            request.add_header(header.name, header.value)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return g.HttpAnswer(status=answer.status, body=answer.read())
        except urllib.error.HTTPError as refused:
            return g.HttpAnswer(status=refused.code, body=refused.read())
        except (urllib.error.URLError, OSError) as e:
            raise g.TransportError.Network(reason=str(getattr(e, "reason", e)))


class Recorder(g.SyncListener):
    """Remembers every progress report; can cancel or misbehave on request."""

    def __init__(self, store=None, cancel_after_push=False, cancelled=False, explode=False):
        self.seen = []
        self.store = store
        self.cancel_after_push = cancel_after_push
        self.cancelled = cancelled
        self.explode = explode

    def on_progress(self, progress):
        self.seen.append(progress)
        if self.explode:
            raise RuntimeError("a bug in the app's listener")
        if self.cancel_after_push and progress.phase == g.SyncPhase.PUSHING:
            # Called while sync holds the store: cancel_sync must not wait for it.
            self.store.cancel_sync()

    def is_cancelled(self):
        return self.cancelled

    def phases(self):
        return {p.phase for p in self.seen}


def new_store(name, transport=None):
    path = os.path.join(TMP, name + ".db")
    key = secrets.token_bytes(32)  # an app keeps this in the Android Keystore / iOS Keychain
    return GridStore.create(path, URL, key, transport), path, key


def record(store, record_id):
    text = store.get_record(record_id)
    assert text is not None, "record %s is not on this device" % record_id
    return json.loads(text)


def sync(store, listener=None):
    summary = store.sync(listener)
    assert summary.pending == 0, summary
    return summary


# ---- Enrollment ---------------------------------------------------------

worker, worker_path, worker_key = new_store("li")
enrolled = worker.enroll(os.environ["GRIDSYNC_CODE_WORKER"])
assert (enrolled.user, enrolled.role, enrolled.place) == ("li", "worker", GRID), enrolled
assert worker.enrolled_user() == enrolled
check("enrolled worker li as %s at %s" % (enrolled.role, enrolled.place))

transport = UrllibTransport()
township, township_path, _ = new_store("wang", transport)
enrolled = township.enroll(os.environ["GRIDSYNC_CODE_TOWNSHIP"])
assert (enrolled.user, enrolled.role, enrolled.place) == ("wang", "township_admin", TOWNSHIP), enrolled
assert transport.requests == 1, "enrollment went through the Python transport"
check("enrolled township admin %s as %s at %s" % (enrolled.user, enrolled.role, enrolled.place))

spare, spare_path, spare_key = new_store("li-spare")
used = expect_error(GridError.Auth, spare.enroll, os.environ["GRIDSYNC_CODE_WORKER"])
assert used.code == "enrollment_used", used
expect_error(GridError.Auth, spare.register_dispute, g.NewDispute(source="patrol", category="邻里纠纷"))
check("a used code is refused: GridError.Auth(%s)" % used.code)

offline = GridStore.create(os.path.join(TMP, "offline.db"), "http://127.0.0.1:1", secrets.token_bytes(32))
expect_error(GridError.Network, offline.enroll, "7KQ2M-XW4NP-R8TJD-3HFAZ")


class DeadTransport(g.ForeignTransport):
    def post(self, url, content_type, headers, body):
        raise g.TransportError.Network(reason="no signal")


dead = GridStore.create(os.path.join(TMP, "dead.db"), URL, secrets.token_bytes(32), DeadTransport())
assert expect_error(GridError.Network, dead.enroll, "7KQ2M-XW4NP-R8TJD-3HFAZ").reason == "no signal"
expect_error(GridError.Validation, GridStore.open, worker_path, b"short key")
expect_error(GridError.Storage, GridStore.open, worker_path, secrets.token_bytes(32))
check("an unreachable server is GridError.Network")

# The township's server is at another address: the handset moves there.
moved = expect_error(GridError.Validation, offline.set_server, "ftp://10.1.2.3")
assert (moved.code, moved.field) == ("invalid_request", "server_url"), moved
assert offline.server_url() == "http://127.0.0.1:1"
offline.set_server(URL)
assert offline.server_url() == URL
assert expect_error(GridError.Auth, offline.enroll, "7KQ2M-XW4NP-R8TJD-3HFAZ").code == "enrollment_invalid"
check("set_server: the next request goes to the new address")

# ---- Field work, offline ------------------------------------------------

patrol = worker.start_patrol(now_ms())
worker.add_checkpoint(patrol, "东关村三组路口", now_ms(), g.Gps(lat=35.54, lon=106.68, accuracy_m=8.0))
dispute = worker.register_dispute(
    g.NewDispute(
        source="patrol",
        category="邻里纠纷",
        summary="两户因排水沟发生争执",
        risk=2,
        parties=[g.Party(name=PARTY, id_number=ID_NUMBER), g.Party(name=OTHER_PARTY, role="respondent")],
        source_record=patrol,
    )
)
worker.add_finding(patrol, dispute)
worker.add_mediation(dispute, g.Mediation(time_ms=now_ms(), outcome="failed", place="村委会", note="双方各执一词"))
worker.end_patrol(patrol, now_ms(), "一切正常")
visit = worker.record_visit(
    g.Visit(visited_ms=now_ms(), person_category="elderly_alone", purpose="routine", address="东关村3组12号")
)
household = worker.create_record(
    "household", json.dumps({"grid": GRID, "category": "household", "door_plate": "东关村3组12号"})
)
worker.append_entry(household, "note", json.dumps({"text": "户主外出务工"}))
report = worker.file_all_safe()
assert worker.pending_changes() > 0
shown = record(worker, dispute)
assert shown["kind"] == "dispute" and shown["fields"]["risk"] == 2, shown
assert [p["name"] for p in shown["fields"]["parties"]] == [PARTY, OTHER_PARTY], shown
assert shown["lifecycle"]["stage"] == "found", shown
assert record(worker, report)["fields"]["status"] == "all_safe"
assert len(worker.list_records("dispute")) == 1 and len(worker.list_records()) == 5
check("field work recorded")

# ---- First sync, with progress ------------------------------------------

listener = Recorder()
summary = sync(worker, listener)
assert summary.pushed > 0 and summary.refused == 0, summary
assert listener.phases() == {g.SyncPhase.PUSHING, g.SyncPhase.PULLING, g.SyncPhase.FINISHED}, listener.seen
assert listener.seen[-1].phase == g.SyncPhase.FINISHED and listener.seen[-1].to_push == 0
township_listener = Recorder()
summary = sync(township, township_listener)
assert summary.snapshots > 0 and summary.snapshots == summary.rebuilt, summary  # records new here arrive as snapshots (ADR 0019)
assert {g.SyncPhase.PULLING, g.SyncPhase.FINISHED} <= township_listener.phases()
check("first sync: phases pushing, pulling, finished")

assert record(township, dispute)["fields"]["summary"] == "两户因排水沟发生争执"
assert record(township, report)["fields"]["status"] == "all_safe"
check("the township holds the dispute and the daily report")

# ---- The same field edited on both phones, offline ----------------------

worker.set_fields(dispute, json.dumps({"summary": "排水沟堵塞，两户互不相让"}))
township.set_fields(dispute, json.dumps({"summary": "排水沟堵塞，需乡镇协调", "risk": 3}))
for store in (worker, township, worker):
    sync(store)

for store in (worker, township):
    conflicts = store.conflicts()
    assert len(conflicts) == 1, conflicts
    conflict = conflicts[0]
    assert (conflict.record, conflict.kind, conflict.field) == (dispute, "dispute", "summary"), conflict
    by_author = {c.author: json.loads(c.value_json) for c in conflict.values}
    assert by_author == {"li": "排水沟堵塞，两户互不相让", "wang": "排水沟堵塞，需乡镇协调"}, by_author
    assert all(c.received_ms is not None for c in conflict.values), conflict
    assert len({c.device for c in conflict.values}) == 2
assert record(worker, dispute)["fields"]["risk"] == 3
assert len(worker.list_records(conflicted=True)) == 1
check("conflict on summary between %s" % " and ".join(sorted(by_author)))

township.resolve_conflict(dispute, "summary", json.dumps("排水沟堵塞，需乡镇协调"))
sync(township)
sync(worker)
assert worker.conflicts() == [] and township.conflicts() == []
assert record(worker, dispute) == record(township, dispute), (record(worker, dispute), record(township, dispute))
assert record(worker, dispute)["fields"]["summary"] == "排水沟堵塞，需乡镇协调"
expect_error(GridError.Validation, worker.resolve_conflict, dispute, "summary", json.dumps(PARTY))
check("resolved: no conflicts, identical records")

# ---- The daily report, with items ---------------------------------------

same = worker.file_daily_report(items=[patrol, dispute, visit], note="走访一户")
assert same == report, "one report a day"
sync(worker)
shown = record(worker, report)
assert shown["fields"]["status"] == "has_items" and len(shown["fields"]["items"]) == 3, shown
sync(township)
assert record(township, report)["fields"]["status"] == "has_items"
check("daily report has items")

# ---- A photo of the mediation, attached offline --------------------------

# A JPEG's first bytes, then 700 KB that do not compress (three chunks of 256 KiB).
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(700 * 1024)
photo = worker.attach(dispute, PHOTO, name="调解现场")
assert (photo.size, photo.media, photo.local, photo.uploaded) == (len(PHOTO), "image/jpeg", True, False), photo
assert [a.hash for a in worker.attachments(dispute)] == [photo.hash]
assert worker.read_attachment(photo.hash) == PHOTO
expect_error(GridError.Validation, worker.attach, dispute, b"plain text is not a photo")
# On mobile data with Wi-Fi only, the record goes and the photo waits.
worker.set_wifi_only(True)
worker.set_network(g.NetworkKind.CELLULAR)
summary = sync(worker)
assert (summary.uploaded, summary.uploads_deferred) == (0, 1), summary
worker.set_network(g.NetworkKind.WIFI)
uploading = Recorder()
summary = sync(worker, uploading)
assert (summary.uploaded, summary.uploaded_bytes) == (1, len(PHOTO)), summary
assert g.SyncPhase.UPLOADING in uploading.phases(), uploading.seen
assert max(p.uploaded_bytes for p in uploading.seen) == len(PHOTO)
assert worker.attachments(dispute)[0].uploaded
check("a photo attached offline uploads on Wi-Fi, with progress in bytes")

sync(township)
seen = township.attachments(dispute)
assert [(a.hash, a.local) for a in seen] == [(photo.hash, False)], seen
fetched = township.fetch_attachment(dispute, photo.hash)
assert fetched.local and fetched.name == "调解现场", fetched
assert township.read_attachment(photo.hash) == PHOTO
opened = township.export_attachment(photo.hash, TMP)
assert opened.endswith(".jpg") and open(opened, "rb").read() == PHOTO, opened
os.remove(opened)
check("the township fetches the photo on demand and opens it as a file")

# ---- Rules and bad input ------------------------------------------------

step = worker.take_step(dispute, "resolve", g.StepDetails(note="双方达成协议"))
assert step.startswith(worker.device_id() + ":"), step
status = json.loads(worker.dispute_status(dispute))
assert status["id"] == dispute and status["stage"] == "resolved", status
refused = expect_error(GridError.Validation, worker.take_step, dispute, "close")
assert (refused.code, refused.field) == ("forbidden", "step"), refused
check("rule refusal: GridError.Validation(%s, %s)" % (refused.code, refused.field))

bad = [
    expect_error(GridError.Validation, worker.set_fields, dispute, '{"summary": %s}' % PARTY),
    expect_error(GridError.Validation, worker.create_record, PARTY, "{}"),
    expect_error(GridError.Validation, worker.get_record, PARTY),
    expect_error(GridError.Validation, worker.take_step, dispute, PARTY),
    expect_error(GridError.Validation, worker.file_all_safe, PARTY),
]
assert all(e.code == "invalid_request" for e in bad), bad
assert [e.field for e in bad] == ["fields_json", "kind", "id", "action", "date"], bad
invalid = expect_error(
    GridError.Validation,
    worker.record_visit,
    g.Visit(visited_ms=now_ms(), person_category=PARTY, purpose="routine", address=PARTY),
)
assert invalid.field == "person_category", invalid
expect_error(
    GridError.Validation,
    worker.register_dispute,
    g.NewDispute(source="patrol", category="邻里纠纷", risk=9, parties=[g.Party(name=PARTY, id_number=ID_NUMBER)]),
)
expect_error(GridError.Validation, worker.dispute_status, report)
check("bad input: GridError.Validation(invalid_request)")

# ---- Cancellation -------------------------------------------------------

worker.add_note(dispute, "回访：双方已履行协议")
canceller = Recorder(store=worker, cancel_after_push=True)
expect_error(GridError.Cancelled, worker.sync, canceller)
assert [p.phase for p in canceller.seen] == [g.SyncPhase.PUSHING], canceller.seen
assert worker.pending_changes() == 0, "what was pushed before the cancel is kept"
check("cancel_sync: GridError.Cancelled, push kept")

expect_error(GridError.Cancelled, worker.sync, Recorder(cancelled=True))
sync(worker)
check("is_cancelled: GridError.Cancelled")

# ---- A panic inside a call ----------------------------------------------

# An exception in the listener becomes a Rust panic inside sync (UniFFI
# panics when an infallible callback fails), while the store is held.
try:
    worker.sync(Recorder(explode=True))
    raise AssertionError("a failing listener must fail the sync")
except g.InternalError as e:
    assert "Callback interface failure" in str(e), e
assert worker.pending_changes() == 0
sync(worker, Recorder())
assert record(worker, dispute)["lifecycle"]["stage"] == "resolved"
check("a panicking listener is InternalError, the store goes on")

# ---- Several threads on one store ---------------------------------------

created = []
failures = []


def write_visits(n):
    try:
        for i in range(5):
            visit_id = township.record_visit(
                g.Visit(
                    visited_ms=now_ms(),
                    person_category="general",
                    purpose="routine",
                    grid=GRID,
                    address="东关村%d组%d号" % (n, i),
                )
            )
            created.append(visit_id)
            township.get_record(visit_id)
    except Exception as e:  # reported below
        failures.append(e)


visits_before = len(township.list_records("visit"))
threads = [threading.Thread(target=write_visits, args=(n,)) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert not failures, failures
assert len(set(created)) == 20
assert len(township.list_records("visit")) == visits_before + 20
sync(township)
check("concurrent writes from 4 threads")

# ---- Revocation ---------------------------------------------------------


def admin_api(method, path, body=None, token=None):
    request = urllib.request.Request(URL + path, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


spare.enroll(os.environ["GRIDSYNC_CODE_WORKER_SPARE"])
sync(spare)
one_time = os.environ["GRIDSYNC_ADMIN_PASSWORD"]
session = admin_api(
    "POST",
    "/v1/admin/login",
    {"user": os.environ["GRIDSYNC_ADMIN_USER"], "password": one_time},
)
token = session["token"]
# A password the operator set is one-time: chosen anew at first login (ADR 0030).
if session["must_change_password"]:
    admin_api(
        "POST",
        "/v1/admin/password",
        {"current_password": one_time, "new_password": one_time + " (own)"},
        token,
    )
devices = admin_api("GET", "/v1/admin/devices", token=token)
li_devices = {d["id"] for d in devices if d["user"] == "li"}
assert li_devices == {worker.device_id(), spare.device_id()}, devices

admin_api("POST", "/v1/admin/devices/%s/revoke" % spare.device_id(), {"wipe": False}, token)
expect_error(GridError.Revoked, spare.sync)
assert os.path.exists(spare_path) and spare.get_record(dispute) is not None
check("revoked without wipe: GridError.Revoked, store kept")

worker.add_note(dispute, "这条不会再送达")
admin_api("POST", "/v1/admin/devices/%s/revoke" % worker.device_id(), {"wipe": True}, token)
expect_error(GridError.Wiped, worker.sync, Recorder())
for suffix in ("", "-wal", "-shm", "-journal", ".attachments"):
    assert not os.path.exists(worker_path + suffix), worker_path + suffix
assert not g.store_exists(worker_path)
expect_error(GridError.Wiped, worker.get_record, dispute)
expect_error(GridError.Wiped, worker.sync)
expect_error(GridError.Storage, GridStore.open, worker_path, worker_key)
sync(township)  # the township is unaffected
check("revoked with wipe: GridError.Wiped, store files and attachments gone")

# ---- No personal data in any error --------------------------------------

assert len(ERROR_TEXTS) > 20, ERROR_TEXTS
for text in ERROR_TEXTS:
    for secret in (PARTY, OTHER_PARTY, ID_NUMBER, "两户", "排水沟"):
        assert secret not in text, text
check("no error text holds personal data")
print("SCENARIO OK", flush=True)
