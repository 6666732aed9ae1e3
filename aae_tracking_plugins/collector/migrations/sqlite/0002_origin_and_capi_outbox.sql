-- Where each event came from: 'browser' (a page's tracker) or 'server' (a back office that sent
-- the write token). Events stored before this migration came from browsers.
ALTER TABLE aae_events ADD COLUMN origin TEXT NOT NULL DEFAULT 'browser'
    CHECK (origin IN ('browser', 'server'));
-- The outbox of the Conversions API forwarding: one row per stored event to relay to Meta,
-- written in the same transaction as the event (docs/collector.md, "The outbox").
CREATE TABLE aae_capi_outbox (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL UNIQUE,         -- the event's (and Meta's) event_id
    session_id      TEXT    NOT NULL,                -- to find the page URL of a Purchase
    landing_page_id TEXT    NOT NULL,
    payload         TEXT    CHECK (payload IS NULL OR json_valid(payload)),  -- NULL once sent
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,                -- UTC, as aae_events.received_at
    claimed_until   TEXT,                            -- a forwarder is sending it until then
    last_error      TEXT,
    last_error_at   TEXT,
    created_at      TEXT    NOT NULL,
    settled_at      TEXT                             -- when it became sent or failed
);
-- What the forwarder claims next: pending rows that are due, oldest first.
CREATE INDEX aae_capi_outbox_due ON aae_capi_outbox (state, next_attempt_at);
-- The page URL of an event without one (a Purchase): its session's latest PageView.
CREATE INDEX aae_events_session_pageview ON aae_events (session_id) WHERE event_type = 'PageView';
