-- tools/compare: PostgreSQL as an event store, the usual way. One table: a
-- global position from an identity column, the stream's name and version,
-- the event's type and its JSON data; UNIQUE (stream, version) is the
-- optimistic concurrency check (a second writer of the same version fails
-- with a unique violation and retries on the stream's new version).
-- The usual caveat holds: a position is taken at insert, not at commit, so a
-- reader may see N+1 before N commits, and an aborted insert leaves a gap
-- (casegrid's positions have no gaps, in commit order).
CREATE TABLE events (
  position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stream      text        NOT NULL,
  version     bigint      NOT NULL,
  type        text        NOT NULL,
  data        jsonb       NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream, version)
);
