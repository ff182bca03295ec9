-- gosight: requires replay
-- rrweb recordings in chunks, read back in chunk_index order for playback.
-- `data` holds the chunk as `encoding` says; ZSTD compresses it further on disk.
CREATE TABLE IF NOT EXISTS replay_chunks
(
    project_id        UUID,
    session_id        UUID,
    chunk_index       UInt32,
    first_timestamp   DateTime64(3, 'UTC'),
    last_timestamp    DateTime64(3, 'UTC'),
    has_full_snapshot Bool,
    event_count       UInt32,
    encoding          LowCardinality(String),
    uncompressed_size UInt64,
    data              String CODEC(ZSTD(3)),
    received_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(first_timestamp)
ORDER BY (project_id, session_id, chunk_index)
TTL toDateTime(received_at) + INTERVAL {{replay_ttl_days}} DAY;
