-- tools/compare's pgbench script: one durable single-event append per
-- transaction (autocommit, synchronous_commit on), as an event store client
-- does it. Each pgbench client walks its own cases like casegrid-load's
-- writers: a stream case/L-<client>-<n> gets 8 events (versions 1..8, the
-- expected version tracked by the client, as an event store's client does
-- with the version its last append returned), then the client starts the
-- next case. pgbench keeps a client's variables from one transaction to the
-- next; tools/compare starts them with -D v=0 -D c=0.
\if :v >= 8
\set c :c + 1
\set v 0
\endif
\set v :v + 1
\if :v = 1
INSERT INTO events (stream, version, type, data)
VALUES ('case/L-' || :client_id || '-' || :c, :v, 'CaseReported',
        '{"kind":"dispute","channel":"call","cell":"load/a1/g1/c1","category":"neighbour","priority":"normal","summary":"load case","reporter":{"name":"Li Wei","phone":"13800000000"},"parties":["Li Wei","Zhang San"],"by":"officer-1"}')
RETURNING position;
\else
INSERT INTO events (stream, version, type, data)
VALUES ('case/L-' || :client_id || '-' || :c, :v, 'NoteAdded',
        '{"text":"called the reporter, visit planned","by":"officer-1"}')
RETURNING position;
\endif
