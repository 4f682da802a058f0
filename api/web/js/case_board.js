// The case views of one subtree of the grid, kept live from the
// `cell/{path}` channel: its snapshot (at most 500 views; when the server
// says it is truncated, the open and resolved cases are read page by page
// from GET /api/v1/cases), then every view as it changes. A view replaces the
// one held only if its position is newer, so the snapshot, the pages and the
// live messages can arrive in any order. A case that closes is told of (its
// change) and then let go: the board holds the cases not closed, so that it
// does not grow over a shift (review 109); its closed view is kept aside (the
// newest 2,000), so that an older view read late does not bring it back and
// a later change of it is told against it. On a fresh store (push.js) every
// view held is dropped, and the board fills again from the new snapshot.
import { OPEN_STATES } from './format.js';

const FILL_STATES = [...OPEN_STATES, 'resolved'];
const FILL_LIMIT = 5000; // views read per state when the snapshot is truncated
const CLOSED_KEPT = 2000; // views of closed cases remembered, the newest

export class CaseBoard {
  // onChange(changes): changes = [{view, before}] (before undefined: first seen),
  // `initial` true for the snapshot, the pages read after it, and a reset.
  constructor(session, push, path, onChange, onError = () => {}) {
    this.session = session;
    this.path = path;
    this.cases = new Map();
    this.closed = new Map(); // case id -> its view as it closed (not in `cases`)
    this.onChange = onChange;
    this.ready = false;
    // Whether the board holds every case of the subtree that is not closed:
    // not while a truncated snapshot is being filled, nor when a state had
    // more than FILL_LIMIT cases or its read failed. Counts of it are then floors.
    this.complete = false;
    this.store = 0; // bumped on a fresh store: reads of the old one are dropped
    this.stop = push.subscribe(`cell/${path}`, (m) => this.receive(m, onError));
    this.stopFresh = push.onFreshStore(() => this.reset());
  }

  // Ends the board: its channel, and its reads still to come (review 109: a
  // truncated snapshot's pages went on being read after the page moved on).
  close() {
    this.store++;
    this.stop();
    this.stopFresh();
    this.onChange = () => {};
  }

  reset() {
    this.store++;
    this.cases.clear();
    this.closed.clear();
    this.ready = false;
    this.complete = false;
    this.onChange([], true);
  }

  receive(m, onError) {
    if (m.type === 'error') return onError(m.error);
    if (m.type === 'subscribed') {
      onError(null); // taken: a refusal before it (asked again by push.js) is over
      if (!m.snapshot) return; // a resume: what was missed follows as views
      this.ready = true;
      this.complete = !m.snapshot.truncated;
      this.merge(m.snapshot.cases ?? [], true);
      if (m.snapshot.truncated) this.fill();
      return;
    }
    if (m.type === 'view' && m.view) this.merge([m.view], false);
  }

  merge(views, initial) {
    const changes = [];
    for (const view of views) {
      // A closed case's view is its `before`: a note on it, or its reopening,
      // is told as such (review 111: "Now closed — …" at each note).
      const before = this.cases.get(view.case_id) ?? this.closed.get(view.case_id);
      if (before && before.position >= view.position) continue;
      if (view.state === 'closed') {
        this.cases.delete(view.case_id);
        this.closed.delete(view.case_id); // to the end: the newest
        this.closed.set(view.case_id, view);
        if (this.closed.size > CLOSED_KEPT) this.closed.delete(this.closed.keys().next().value);
      } else {
        this.cases.set(view.case_id, view);
        this.closed.delete(view.case_id);
      }
      changes.push({ view, before });
    }
    if (changes.length || initial) this.onChange(changes, initial);
  }

  async fill() {
    const store = this.store;
    let whole = true;
    for (const state of FILL_STATES) {
      let after = '';
      let read = 0;
      for (;;) {
        const q = new URLSearchParams({ cell: this.path, state, limit: '500' });
        if (after) q.set('after', after);
        let page;
        try {
          page = await this.session.api(`/api/v1/cases?${q}`);
        } catch {
          return; // not complete: its counts stay floors
        }
        if (store !== this.store) return;
        this.merge(page.cases, true);
        read += page.cases.length;
        if (!page.next) break;
        if (read >= FILL_LIMIT) {
          whole = false;
          break;
        }
        after = page.next;
      }
    }
    this.complete = whole;
    this.onChange([], true);
  }
}
