-- The vendor's SQLite file of the `vendor_stack` bench (apiws.php reads it). The bench creates
-- it in its temporary folder and seeds it with the engine's data:
-- - api_key: the eXpand key the bench issued on the engine (`<id>.<secret>`), its secret as
--   SHA-256 (hex);
-- - originate_job: empty, as the engine's fresh store (both are asked for an id no job has);
-- - agent, queue, queue_member, queue_call: the `<panel>` the engine answered to statusQueues
--   (the lab's live queues), row for row, in the panel's order.
PRAGMA journal_mode = WAL;
CREATE TABLE api_key (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    api TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE TABLE originate_job (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE agent (
    number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    laststatuschange INTEGER NOT NULL,
    lastcongestion INTEGER NOT NULL,
    warning INTEGER NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE queue (
    qname TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    abandoned INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    counterabn INTEGER NOT NULL,
    counterans INTEGER NOT NULL,
    numongoing INTEGER NOT NULL,
    numwaiting INTEGER NOT NULL,
    ratio TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE queue_member (
    qname TEXT NOT NULL,
    agent TEXT NOT NULL,
    paused INTEGER NOT NULL,
    status TEXT NOT NULL,
    pausetype TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (qname, agent)
);
CREATE TABLE queue_call (
    qname TEXT NOT NULL,
    type TEXT NOT NULL,
    callerid TEXT NOT NULL,
    calleridname TEXT NOT NULL,
    connecttime TEXT NOT NULL,
    intime TEXT NOT NULL,
    uniqueid TEXT NOT NULL,
    agent TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX queue_member_order ON queue_member (qname, position);
CREATE INDEX queue_call_order ON queue_call (qname, position);
