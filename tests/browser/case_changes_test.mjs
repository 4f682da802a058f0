// What the timeline says of one case view after another (api/web/js/case_changes.js),
// read without a browser: `node tests/browser/case_changes_test.mjs`.
import assert from 'node:assert/strict';
import { describeChange } from '../../api/web/js/case_changes.js';

const view = (over) => ({
  state: 'in_progress',
  tier: 1,
  assignee: 'officer-7',
  priority: 'normal',
  arrived_at: null,
  notes: 0,
  mediation: { sessions: 1, agreements: 1 },
  version: 5,
  callback: { state: 'none' },
  deadlines: [{ deadline: 'first_contact', due_at: '2026-11-23T10:31:02.123Z', warned: false, met: false, missed: false }],
  ...over,
});

const before = view({});
// A mediation's DeadlineMet comes as a view of its own: said, not "Updated".
const met = view({ version: 6, deadlines: [{ ...before.deadlines[0], met: true }] });
assert.equal(describeChange(before, met), 'Deadline first contact met');
// Met by a step said already (the officer arrived): not said twice.
const arrived = view({ version: 6, arrived_at: '2026-11-22T11:00:00.000Z', deadlines: met.deadlines });
assert.equal(describeChange(before, arrived), 'Officer arrived');
// A deadline missed is said as before.
const missed = view({ version: 6, deadlines: [{ ...before.deadlines[0], missed: true }] });
assert.equal(describeChange(before, missed), 'Deadline first contact missed');
// A dispatch names who is on the way; one who arrives is said as arrived, not sent again.
const sent = view({ version: 6, dispatched: ['officer-7'] });
assert.equal(describeChange(before, sent), 'On the way: officer-7');
const there = view({ version: 7, dispatched: [], arrived_at: '2026-11-22T11:00:00.000Z' });
assert.equal(describeChange(sent, there), 'Officer arrived');
console.log('case_changes: 5 passed');
