-- The events table: each event as it was sent (json), when it arrived, and the columns the
-- funnel filters and groups on. The UNIQUE constraint on event_id is what de-duplicates, across
-- every collector process that shares this database.
CREATE TABLE aae_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        text             NOT NULL,
    received_at     timestamptz      NOT NULL,
    event_type      text             NOT NULL,
    landing_page_id text             NOT NULL,
    campaign_id     text,
    variant         text,                           -- event_data.variant
    session_id      text             NOT NULL,
    value           double precision,               -- a Purchase's event_data.value
    currency        text,                           -- a Purchase's event_data.currency
    event           json             NOT NULL,       -- as sent: json keeps its text, key order too
    CONSTRAINT aae_events_event_id_key UNIQUE (event_id)
);
-- Newest first, for the listing and the dashboard's latest events.
CREATE INDEX aae_events_received_at ON aae_events (received_at);
-- The funnel: per landing page, campaign and variant, by event type.
CREATE INDEX aae_events_funnel ON aae_events (landing_page_id, campaign_id, variant, event_type);
