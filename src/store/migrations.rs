//! The store's schema as an ordered list of migrations. `PRAGMA user_version` holds how many have
//! been applied; each one runs in its own transaction together with the version bump, so a crash
//! mid-migration leaves the previous version intact. Never edit a released migration: append one.
//!
//! Times are UTC epoch seconds (`INTEGER`); durations are whole seconds. `file_dev`, `file_ino`,
//! `file_created_ns` (the file's birth time, 0 if unknown) and `byte_offset` are unsigned values
//! stored bit-for-bit in SQLite's signed 64-bit integers.

/// The migrations, in order; entry `i` produces schema version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the journal of CDRs and queue_log records, and the cursors of their sources.
    r#"
CREATE TABLE source_cursor (
    source             TEXT PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('rowid', 'file')),
    last_rowid         INTEGER,
    file_dev           INTEGER,
    file_ino           INTEGER,
    file_created_ns    INTEGER,
    byte_offset        INTEGER,
    duplicates_ignored INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE cdr (
    id            INTEGER PRIMARY KEY,
    source        TEXT NOT NULL,
    source_rowid  INTEGER NOT NULL,
    start_epoch   INTEGER NOT NULL,
    answer_epoch  INTEGER,
    end_epoch     INTEGER NOT NULL,
    clid          TEXT NOT NULL,
    src           TEXT NOT NULL,
    dst           TEXT NOT NULL,
    dcontext      TEXT NOT NULL,
    channel       TEXT NOT NULL,
    dstchannel    TEXT,
    lastapp       TEXT NOT NULL,
    lastdata      TEXT NOT NULL,
    duration      INTEGER NOT NULL,
    billsec       INTEGER NOT NULL,
    disposition   TEXT NOT NULL,
    amaflags      TEXT NOT NULL,
    accountcode   TEXT NOT NULL,
    uniqueid      TEXT NOT NULL,
    linkedid      TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    peeraccount   TEXT NOT NULL,
    userfield     TEXT NOT NULL,
    recordingfile TEXT NOT NULL,
    calldata      TEXT NOT NULL,
    UNIQUE (source, source_rowid)
) STRICT;
CREATE INDEX cdr_start ON cdr (start_epoch);
CREATE INDEX cdr_uniqueid ON cdr (uniqueid);
CREATE INDEX cdr_linkedid ON cdr (linkedid);

CREATE TABLE queue_log (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    file_dev        INTEGER NOT NULL,
    file_ino        INTEGER NOT NULL,
    file_created_ns INTEGER NOT NULL,
    byte_offset     INTEGER NOT NULL,
    time_epoch  INTEGER NOT NULL,
    callid      TEXT NOT NULL,
    queue       TEXT NOT NULL,
    agent       TEXT NOT NULL,
    event       TEXT NOT NULL,
    -- the data fields joined with '|'; NULL when the line has none
    data        TEXT,
    UNIQUE (source, file_dev, file_ino, file_created_ns, byte_offset)
) STRICT;
CREATE INDEX queue_log_time ON queue_log (time_epoch);
CREATE INDEX queue_log_callid ON queue_log (callid);
CREATE INDEX queue_log_queue_time ON queue_log (queue, time_epoch);
"#,
    // The directory: agents with their queues, pause reasons with theirs, API credentials
    // (hashed, revocable).
    r#"
CREATE TABLE agent (
    number            TEXT PRIMARY KEY,
    username          TEXT NOT NULL UNIQUE,
    full_name         TEXT NOT NULL,
    email             TEXT,
    profile           TEXT NOT NULL,
    supervisor        INTEGER NOT NULL CHECK (supervisor IN (0, 1)),
    password_hash     TEXT,
    default_extension TEXT
) STRICT;

CREATE TABLE agent_queue (
    agent    TEXT NOT NULL REFERENCES agent (number) ON DELETE CASCADE,
    queue    TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (agent, queue)
) STRICT;

CREATE TABLE pause_reason (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    max_seconds INTEGER
) STRICT;

CREATE TABLE pause_reason_queue (
    reason TEXT NOT NULL REFERENCES pause_reason (id) ON DELETE CASCADE,
    queue  TEXT NOT NULL,
    PRIMARY KEY (reason, queue)
) STRICT;

CREATE TABLE api_credential (
    id          TEXT PRIMARY KEY,
    system      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
"#,
    // Originate jobs: stored before their call is sent; finished ones purged after retention.
    r#"
CREATE TABLE originate_job (
    id                 TEXT PRIMARY KEY,
    mode               TEXT NOT NULL CHECK (mode IN ('click_to_call', 'direct')),
    source             TEXT,
    context            TEXT,
    exten              TEXT,
    destination        TEXT NOT NULL,
    src_cid_name       TEXT,
    src_cid_number     TEXT,
    dst_cid_name       TEXT,
    dst_cid_number     TEXT,
    ring_timeout_s     INTEGER NOT NULL,
    -- rendered k=v,k=v
    call_data          TEXT NOT NULL,
    state              TEXT NOT NULL,
    progress           TEXT NOT NULL,
    dial_failure       TEXT,
    hangup_cause       INTEGER,
    -- channel names separated by spaces
    channels           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    source_answered_at INTEGER,
    answered_at        INTEGER,
    ended_at           INTEGER
) STRICT;
"#,
    // The journal of the engine's own actions: who asked for what through which API.
    r#"
CREATE TABLE engine_action (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    api       TEXT NOT NULL,
    principal TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    -- never a secret
    params    TEXT NOT NULL,
    outcome   TEXT NOT NULL
) STRICT;
CREATE INDEX engine_action_at ON engine_action (at);
"#,
    // The recordings catalogue: each recording tied to its call, with free text tags. The
    // cataloguer's cursor over the journal's `cdr.id` lives in source_cursor ('recordings').
    r#"
CREATE TABLE recording (
    id            TEXT PRIMARY KEY,
    relative_path TEXT NOT NULL UNIQUE,
    uniqueid      TEXT,
    linkedid      TEXT,
    guid          TEXT NOT NULL,
    idcti         TEXT,
    cdr_rowid     INTEGER,
    answered      INTEGER NOT NULL CHECK (answered IN (0, 1)),
    agent         TEXT,
    queue         TEXT,
    duration_ms   INTEGER NOT NULL,
    format        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    imported_from TEXT UNIQUE
) STRICT;
CREATE INDEX recording_uniqueid ON recording (uniqueid);
CREATE INDEX recording_linkedid ON recording (linkedid);
CREATE INDEX recording_guid ON recording (guid);
CREATE INDEX recording_idcti ON recording (idcti);
CREATE INDEX recording_created ON recording (created);

CREATE TABLE recording_tag (
    recording TEXT NOT NULL REFERENCES recording (id) ON DELETE CASCADE,
    tag       TEXT NOT NULL,
    PRIMARY KEY (recording, tag)
) STRICT;
"#,
    // API credentials are scoped to one client API (or `any`, the keys issued before).
    r#"
ALTER TABLE api_credential ADD COLUMN api TEXT NOT NULL DEFAULT 'any'
    CHECK (api IN ('expand', 'uscall', 'ucontact', 'any'));
"#,
    // Campaigns: the blacklist (do-not-call list), the calls agents placed for a campaign (by
    // guid) and the dispositions of calls. Days are `YYYY-MM-DD` in the call center's zone.
    r#"
CREATE TABLE blacklist (
    phone       TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('I', 'O', 'IO')),
    expire_date TEXT,
    username    TEXT NOT NULL,
    company     TEXT NOT NULL,
    job_title   TEXT NOT NULL,
    name        TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (phone, campaign, direction)
) STRICT;

CREATE TABLE campaign_call (
    guid         TEXT PRIMARY KEY,
    originate_id TEXT NOT NULL UNIQUE,
    campaign     TEXT NOT NULL,
    agent        TEXT NOT NULL,
    phone        TEXT NOT NULL,
    destination  TEXT NOT NULL,
    data         TEXT NOT NULL,
    form         TEXT NOT NULL,
    created      INTEGER NOT NULL
) STRICT;
CREATE INDEX campaign_call_created ON campaign_call (created);

CREATE TABLE call_disposition (
    id               INTEGER PRIMARY KEY,
    guid             TEXT NOT NULL,
    campaign         TEXT NOT NULL,
    agent            TEXT NOT NULL,
    callerid         TEXT NOT NULL,
    l1               TEXT NOT NULL,
    l2               TEXT NOT NULL,
    l3               TEXT NOT NULL,
    d1               TEXT NOT NULL,
    d2               TEXT NOT NULL,
    comment          TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    camptoreschedule TEXT NOT NULL,
    tag              TEXT NOT NULL,
    action           TEXT NOT NULL,
    txtcode          TEXT NOT NULL,
    pending_dialer   INTEGER NOT NULL CHECK (pending_dialer IN (0, 1)),
    at               INTEGER NOT NULL
) STRICT;
CREATE INDEX call_disposition_guid ON call_disposition (guid);
"#,
    // USCall's agentLogin: an Argon2id hash of the MD5 hex digest of each agent's password
    // (never the MD5 itself), set with the password.
    r#"
CREATE TABLE agent_password_digest (
    agent TEXT PRIMARY KEY,
    hash  TEXT NOT NULL
) STRICT;
"#,
    // Text messages (SMS) sent for API clients, one row per recipient.
    r#"
CREATE TABLE sms_job (
    id         INTEGER PRIMARY KEY,
    text       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('PENDING', 'SENT', 'ERROR', 'DRAFT')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE sms_recipient (
    job    INTEGER NOT NULL REFERENCES sms_job (id) ON DELETE CASCADE,
    pos    INTEGER NOT NULL,
    number TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SENT', 'ERROR')),
    PRIMARY KEY (job, pos)
) STRICT;
"#,
    // API sessions (uContact getUserToken) by the hash of their token; never the token.
    r#"
CREATE TABLE api_session (
    token_hash TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    supervisor INTEGER NOT NULL CHECK (supervisor IN (0, 1)),
    last_used  INTEGER NOT NULL
) STRICT;
"#,
    // The state of queue members at an instant (the last line of each kind per member), read
    // by reports without the history before it.
    r#"
CREATE INDEX queue_log_member_event_time ON queue_log (agent, queue, event, time_epoch);
"#,
    // Originate jobs whose source is an outside number (`outside_source`, the number in
    // `source`): the mode's CHECK widened, rows kept.
    r#"
CREATE TABLE originate_job_v2 (
    id                 TEXT PRIMARY KEY,
    mode               TEXT NOT NULL CHECK (mode IN ('click_to_call', 'outside_source', 'direct')),
    source             TEXT,
    context            TEXT,
    exten              TEXT,
    destination        TEXT NOT NULL,
    src_cid_name       TEXT,
    src_cid_number     TEXT,
    dst_cid_name       TEXT,
    dst_cid_number     TEXT,
    ring_timeout_s     INTEGER NOT NULL,
    -- rendered k=v,k=v
    call_data          TEXT NOT NULL,
    state              TEXT NOT NULL,
    progress           TEXT NOT NULL,
    dial_failure       TEXT,
    hangup_cause       INTEGER,
    -- channel names separated by spaces
    channels           TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    source_answered_at INTEGER,
    answered_at        INTEGER,
    ended_at           INTEGER
) STRICT;
INSERT INTO originate_job_v2 SELECT * FROM originate_job;
DROP TABLE originate_job;
ALTER TABLE originate_job_v2 RENAME TO originate_job;
"#,
    // Keys made once per install (the recording links' MAC key): never leave the store.
    r#"
CREATE TABLE install_key (
    name TEXT PRIMARY KEY,
    key  BLOB NOT NULL
) STRICT;
"#,
    // Why each channel ended (AMI Hangup's Q.850 cause), by uniqueid: getrecords' causecode.
    r#"
CREATE TABLE hangup_cause (
    uniqueid TEXT PRIMARY KEY,
    cause    INTEGER NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX hangup_cause_at ON hangup_cause (at);
"#,
    // The legs ended lately, for the running day figures (`cdrs_ended`).
    r#"
CREATE INDEX cdr_end ON cdr (end_epoch);
"#,
    // The dialer: campaigns, their contacts and each contact's attempts. Parts of a campaign
    // are kept in the core's text forms (`DialMode::as_text`, `RetryRules::as_text`, ...).
    // Claiming walks `dialer_contact_claim` once per open zone (campaign, state, zone, then
    // callbacks first, priority, age), so contacts of closed zones are never read; the
    // blacklist is its primary key.
    r#"
CREATE TABLE dialer_campaign (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    queue             TEXT NOT NULL,
    mode              TEXT NOT NULL,
    trunk             TEXT,
    caller_id         TEXT,
    weekdays          TEXT NOT NULL,
    hours             TEXT NOT NULL,
    holidays          TEXT NOT NULL,
    calling_floor     TEXT NOT NULL,
    retry             TEXT NOT NULL,
    alternatives      TEXT NOT NULL,
    priority          INTEGER NOT NULL,
    ring_timeout_s    INTEGER NOT NULL,
    abandon_per_mille INTEGER NOT NULL,
    regime            TEXT NOT NULL,
    state             TEXT NOT NULL,
    default_zone      TEXT NOT NULL
) STRICT;

CREATE TABLE dialer_contact (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES dialer_campaign (id),
    main         TEXT NOT NULL,
    -- numbers separated by ':'
    alternatives TEXT NOT NULL,
    -- var=val:var=val
    data         TEXT NOT NULL,
    zone         TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    agent        TEXT,
    -- 1: a dated callback not attempted yet
    callback     INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN
                     ('pending', 'in_progress', 'completed', 'rejected', 'canceled')),
    next_at      INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    state_at     INTEGER NOT NULL,
    UNIQUE (campaign_id, main)
) STRICT;
CREATE INDEX dialer_contact_claim
    ON dialer_contact (campaign_id, state, zone, callback DESC, priority, id);
CREATE INDEX dialer_contact_zone ON dialer_contact (campaign_id, zone);

CREATE TABLE dialer_attempt (
    id                 INTEGER PRIMARY KEY,
    contact_id         INTEGER NOT NULL REFERENCES dialer_contact (id),
    number_of          INTEGER NOT NULL,
    dialed             TEXT NOT NULL,
    claimed_at         INTEGER NOT NULL,
    answered_at        INTEGER,
    ended_at           INTEGER NOT NULL,
    outcome            TEXT NOT NULL,
    connect_latency_ms INTEGER,
    UNIQUE (contact_id, number_of)
) STRICT;
"#,
    // The dialer's calls: each campaign's answer handling (AMD, abandon threshold and its start,
    // safe-harbor sound), the originate job of a contact in progress, and the evidence of each
    // attempt (the abandon ledger: one row per job, so an attempt is never counted twice).
    r#"
ALTER TABLE dialer_campaign ADD COLUMN amd INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dialer_campaign ADD COLUMN abandon_threshold_s INTEGER NOT NULL DEFAULT 2;
ALTER TABLE dialer_campaign ADD COLUMN abandon_start TEXT NOT NULL DEFAULT 'greeting_end';
ALTER TABLE dialer_campaign ADD COLUMN safe_harbor TEXT NOT NULL DEFAULT 'im-sorry&goodbye';
ALTER TABLE dialer_contact ADD COLUMN job TEXT;
CREATE TABLE dialer_evidence (
    contact_id      INTEGER NOT NULL REFERENCES dialer_contact (id),
    number_of       INTEGER NOT NULL,
    campaign_id     INTEGER NOT NULL REFERENCES dialer_campaign (id),
    job             TEXT NOT NULL UNIQUE,
    ended_at        INTEGER NOT NULL,
    -- the job's final state (originate store's names)
    job_state       TEXT NOT NULL,
    answered        INTEGER NOT NULL,
    -- AMD's AMDSTATUS|AMDCAUSE, NULL without AMD
    amd             TEXT,
    machine         INTEGER NOT NULL,
    safe_harbor     INTEGER NOT NULL,
    abandoned       INTEGER NOT NULL,
    agent           TEXT,
    answered_ms     INTEGER,
    greeting_end_ms INTEGER,
    connected_ms    INTEGER,
    PRIMARY KEY (contact_id, number_of)
) STRICT;
CREATE INDEX dialer_evidence_ledger ON dialer_evidence (campaign_id, ended_at);
"#,
    // Scheduled calls (uContact Dialers/*): callbacks and dialer tasks (ScheduleDialerCall,
    // DialerTask; eXpand's pending outgoing calls); at most one open (pending or in progress)
    // call per campaign and number.
    r#"
CREATE TABLE dialer_schedule (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES dialer_campaign (id),
    number       TEXT NOT NULL,
    -- numbers separated by ':'
    alternatives TEXT NOT NULL,
    agent        TEXT,
    -- NULL: undated (placed when the campaign is free)
    call_at      INTEGER,
    expires_at   INTEGER,
    -- var=val:var=val
    data         TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN
                     ('pending', 'in_progress', 'completed', 'canceled', 'expired')),
    attempts     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX dialer_schedule_open ON dialer_schedule (campaign_id, number)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX dialer_schedule_due ON dialer_schedule (campaign_id, status, priority, call_at);
CREATE INDEX dialer_schedule_expiry ON dialer_schedule (status, expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX dialer_schedule_date ON dialer_schedule (call_at);
"#,
    // eXpand REST: credentials scoped to it (`expand-rest`; the table is rebuilt to widen its
    // CHECK), a contact's name and extra info (JSON text), and an index behind every order of
    // the contact listings (the number's is the `UNIQUE (campaign_id, main)` index).
    r#"
CREATE TABLE api_credential_scoped (
    id          TEXT PRIMARY KEY,
    system      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    api         TEXT NOT NULL DEFAULT 'any'
        CHECK (api IN ('expand', 'uscall', 'ucontact', 'expand-rest', 'any'))
) STRICT;
INSERT INTO api_credential_scoped (id, system, secret_hash, created_at, revoked_at, api)
    SELECT id, system, secret_hash, created_at, revoked_at, api FROM api_credential;
DROP TABLE api_credential;
ALTER TABLE api_credential_scoped RENAME TO api_credential;
ALTER TABLE dialer_contact ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE dialer_contact ADD COLUMN info TEXT;
CREATE INDEX dialer_contact_by_id ON dialer_contact (campaign_id, id);
CREATE INDEX dialer_contact_by_name ON dialer_contact (campaign_id, name, id);
CREATE INDEX dialer_contact_by_added ON dialer_contact (campaign_id, created_at, id);
CREATE INDEX dialer_contact_by_change ON dialer_contact (campaign_id, state_at, id);
"#,
    // The dialer places a due scheduled call through a contact of its campaign: the call keeps
    // that contact until the contact's attempt is recorded.
    r#"
ALTER TABLE dialer_schedule ADD COLUMN contact_id INTEGER REFERENCES dialer_contact (id);
CREATE INDEX dialer_schedule_contact ON dialer_schedule (contact_id) WHERE contact_id IS NOT NULL;
"#,
    // Due callbacks are found by their due time: a claim never walks callbacks not due yet.
    r#"
CREATE INDEX dialer_contact_callback_due ON dialer_contact (campaign_id, state, zone, next_at)
    WHERE callback = 1;
"#,
    // An originate job is marked sent, durably, just before its Originate is written
    // (`sent_at`; NULL: never sent), and a job whose end was not seen says so (`vanished`).
    // Jobs stored before are taken as sent (the safe side: an unsent call is resolved as
    // before, never a sent one released), and as vanished when they ended the way a resync
    // ended them (no hangup cause, no dial status).
    r#"
ALTER TABLE originate_job ADD COLUMN sent_at INTEGER;
ALTER TABLE originate_job ADD COLUMN vanished INTEGER NOT NULL DEFAULT 0
    CHECK (vanished IN (0, 1));
UPDATE originate_job SET sent_at = created_at;
UPDATE originate_job SET vanished = 1
    WHERE hangup_cause IS NULL AND dial_failure IS NULL AND state IN ('unavailable', 'hungup');
"#,
    // A campaign's share of AMD's machine verdicts estimated to be people, in tenths of a
    // percent (the abandon rate counts them as people hung up on); existing campaigns get the
    // default 10 %.
    r#"
ALTER TABLE dialer_campaign ADD COLUMN amd_false_positives_per_mille INTEGER NOT NULL DEFAULT 100
    CHECK (amd_false_positives_per_mille BETWEEN 0 AND 1000);
"#,
    // A respooled call names the contact it is for and the attempts that contact counts when
    // handed the call (uContact's `contact` and `retries`); NULL: not named.
    r#"
ALTER TABLE dialer_schedule ADD COLUMN for_contact INTEGER REFERENCES dialer_contact (id);
ALTER TABLE dialer_schedule ADD COLUMN retries INTEGER CHECK (retries BETWEEN 0 AND 100);
"#,
    // Contact bases uploaded through an API: the job (its progress written with each batch of
    // contacts) and the accepted file, kept until the job finishes, so an accepted upload
    // survives a restart and is resumed where its last batch ended.
    r#"
CREATE TABLE dialer_upload (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL,
    campaign     TEXT NOT NULL,
    filename     TEXT NOT NULL,
    -- uploadbasewithtimezone's zone; NULL: the campaign's default
    zone         TEXT,
    announced    INTEGER,
    username     TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    -- the last checkpoint: bytes and lines of the file done, the counts so far
    offset_bytes INTEGER NOT NULL DEFAULT 0,
    lines_read   INTEGER NOT NULL DEFAULT 0,
    imported     INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    -- the first rejected lines, one `line<TAB>reason` a line
    first_errors TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX dialer_upload_by_name ON dialer_upload (campaign, filename, id);
CREATE INDEX dialer_upload_unfinished ON dialer_upload (id) WHERE state IN ('pending', 'running');
CREATE INDEX dialer_upload_finished ON dialer_upload (finished_at) WHERE finished_at IS NOT NULL;
CREATE TABLE dialer_upload_file (
    upload_id INTEGER PRIMARY KEY REFERENCES dialer_upload (id) ON DELETE CASCADE,
    content   BLOB NOT NULL
) STRICT;
"#,
    // Key/value lists (eXpand's "listas simples"): a key unique in its list, found by one
    // lookup of the primary key's index (a flow asking whether a caller is in a VIP list).
    r#"
CREATE TABLE key_list (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE key_list_element (
    list_id INTEGER NOT NULL REFERENCES key_list (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (list_id, key)
) STRICT, WITHOUT ROWID;
"#,
    // IVR flows (their JSON form, with the columns listings show), DIDs routed to flows and
    // the IVR CDR: one row per event of a call, unique by (call, seq) so a replay writes
    // nothing twice; read by time and by call.
    r#"
CREATE TABLE ivr_flow (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('dtmf', 'voz')),
    version     INTEGER NOT NULL,
    nodes       INTEGER NOT NULL,
    json        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE TABLE ivr_route (
    did  TEXT PRIMARY KEY,
    flow TEXT NOT NULL REFERENCES ivr_flow (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX ivr_route_by_flow ON ivr_route (flow);
CREATE TABLE ivr_event (
    call        TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    flow        TEXT NOT NULL,
    node        TEXT,
    event       TEXT NOT NULL,
    digits      TEXT NOT NULL,
    matched     TEXT NOT NULL,
    destination TEXT NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    ddr         TEXT NOT NULL,
    origem      TEXT NOT NULL,
    tronco      TEXT NOT NULL,
    idcti       TEXT NOT NULL,
    PRIMARY KEY (call, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX ivr_event_by_time ON ivr_event (at);
CREATE INDEX ivr_event_by_flow ON ivr_event (flow, at);
"#,
    // Outbound webhooks: the outbox (one delivery per endpoint and event, keyed on the fact that
    // produced it, so a fact queued twice is queued once) and the follower's cursors over the
    // facts (the journal's queue_log lines, the dialer's attempts), moved with the deliveries
    // they queued in one transaction.
    r#"
CREATE TABLE webhook_outbox (
    id           INTEGER PRIMARY KEY,
    endpoint     TEXT NOT NULL,
    event_key    TEXT NOT NULL,
    event        TEXT NOT NULL,
    body         BLOB NOT NULL,
    queued_at    INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    failures     INTEGER NOT NULL DEFAULT 0,
    next_at_ms   INTEGER NOT NULL DEFAULT 0,
    delivered_at INTEGER,
    last_error   TEXT,
    UNIQUE (endpoint, event_key)
) STRICT;
CREATE INDEX webhook_outbox_pending ON webhook_outbox (endpoint, id) WHERE state = 'pending';
CREATE TABLE webhook_cursor (
    source  TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL,
    -- facts before this instant (the first follow) are history: never queued
    since   INTEGER NOT NULL
) STRICT;
"#,
];

/// The schema version this engine writes.
pub fn latest_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}
