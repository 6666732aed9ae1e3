-- The events table: each event as it was sent (JSON text), when it arrived, and the columns the
-- funnel filters and groups on. event_id is UNIQUE: the database itself de-duplicates.
CREATE TABLE aae_events (
    id              INTEGER PRIMARY KEY,            -- arrival order in this database
    event_id        TEXT    NOT NULL UNIQUE,
    received_at     TEXT    NOT NULL,               -- UTC, 'YYYY-MM-DDTHH:MM:SS.ffffffZ'
    event_type      TEXT    NOT NULL,
    landing_page_id TEXT    NOT NULL,
    campaign_id     TEXT,
    variant         TEXT,                           -- event_data.variant
    session_id      TEXT    NOT NULL,
    value           REAL,                           -- a Purchase's event_data.value
    currency        TEXT,                           -- a Purchase's event_data.currency
    event           TEXT    NOT NULL CHECK (json_valid(event))
);
-- Newest first, for the listing and the dashboard's latest events.
CREATE INDEX aae_events_received_at ON aae_events (received_at);
-- The funnel: per landing page, campaign and variant, by event type.
CREATE INDEX aae_events_funnel ON aae_events (landing_page_id, campaign_id, variant, event_type);
