-- Where each event came from: 'browser' (a page's tracker) or 'server' (a back office that sent
-- the write token). Events stored before this migration came from browsers.
ALTER TABLE aae_events ADD COLUMN origin text NOT NULL DEFAULT 'browser'
    CONSTRAINT aae_events_origin_check CHECK (origin IN ('browser', 'server'));
-- The outbox of the Conversions API forwarding: one row per stored event to relay to Meta,
-- written in the same transaction as the event (docs/collector.md, "The outbox"). No foreign
-- key to aae_events: the events table may be partitioned later (docs/collector.md, "Scaling").
CREATE TABLE aae_capi_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        text        NOT NULL,
    session_id      text        NOT NULL,             -- to find the page URL of a Purchase
    landing_page_id text        NOT NULL,
    payload         json,                             -- NULL once sent
    state           text        NOT NULL DEFAULT 'pending'
                                CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,                      -- a forwarder is sending it until then
    last_error      text,
    last_error_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,                      -- when it became sent or failed
    CONSTRAINT aae_capi_outbox_event_id_key UNIQUE (event_id)
);
-- What the forwarder claims next: pending rows that are due, oldest first.
CREATE INDEX aae_capi_outbox_due ON aae_capi_outbox (state, next_attempt_at);
-- The page URL of an event without one (a Purchase): its session's latest PageView.
CREATE INDEX aae_events_session_pageview ON aae_events (session_id) WHERE event_type = 'PageView';
