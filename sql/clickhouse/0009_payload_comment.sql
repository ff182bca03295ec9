-- `events.payload` holds the event's type-specific part as proto JSON under the same key as in
-- the whole event ("click", "custom", "jsError", ...); ids, time, page and the enrichment are
-- columns of their own and are not repeated in it.
ALTER TABLE events COMMENT COLUMN payload 'the type-specific part of the event as proto JSON, under its key in the event (click, custom, jsError, ...)';
