-- A variant of append.sql (tools/compare --pg-script tools/compare.d/append_max.sql):
-- the same streams and events, but each insert takes the stream's version
-- from the table (max(version) + 1, read in the same statement) instead of
-- the version the client expects. UNIQUE (stream, version) still guards it.
\if :v >= 8
\set c :c + 1
\set v 0
\endif
\set v :v + 1
\if :v = 1
INSERT INTO events (stream, version, type, data)
SELECT 'case/L-' || :client_id || '-' || :c, coalesce(max(version), 0) + 1, 'CaseReported',
       '{"kind":"dispute","channel":"call","cell":"load/a1/g1/c1","category":"neighbour","priority":"normal","summary":"load case","reporter":{"name":"Li Wei","phone":"13800000000"},"parties":["Li Wei","Zhang San"],"by":"officer-1"}'
FROM events WHERE stream = 'case/L-' || :client_id || '-' || :c
RETURNING position;
\else
INSERT INTO events (stream, version, type, data)
SELECT 'case/L-' || :client_id || '-' || :c, coalesce(max(version), 0) + 1, 'NoteAdded',
       '{"text":"called the reporter, visit planned","by":"officer-1"}'
FROM events WHERE stream = 'case/L-' || :client_id || '-' || :c
RETURNING position;
\endif
