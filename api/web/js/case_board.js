// The case views of one subtree of the grid, kept live from the
// `cell/{path}` channel: its snapshot (at most 500 views; when the server
// says it is truncated, the open and resolved cases are read page by page
// from GET /api/v1/cases), then every view as it changes. A view replaces the
// one held only if its position is newer, so the snapshot, the pages and the
// live messages can arrive in any order.
import { OPEN_STATES } from './format.js';

const FILL_STATES = [...OPEN_STATES, 'resolved'];
const FILL_LIMIT = 5000; // views read per state when the snapshot is truncated

export class CaseBoard {
  // onChange(changes): changes = [{view, before}] (before undefined: first seen),
  // `initial` true for the snapshot and the pages read after it.
  constructor(session, push, path, onChange, onError = () => {}) {
    this.session = session;
    this.path = path;
    this.cases = new Map();
    this.onChange = onChange;
    this.ready = false;
    this.stop = push.subscribe(`cell/${path}`, (m) => this.receive(m, onError));
  }

  close() {
    this.stop();
    this.onChange = () => {};
  }

  receive(m, onError) {
    if (m.type === 'error') return onError(m.error);
    if (m.type === 'subscribed') {
      if (!m.snapshot) return; // a resume: what was missed follows as views
      this.merge(m.snapshot.cases ?? [], true);
      this.ready = true;
      if (m.snapshot.truncated) this.fill();
      return;
    }
    if (m.type === 'view' && m.view) this.merge([m.view], false);
  }

  merge(views, initial) {
    const changes = [];
    for (const view of views) {
      const before = this.cases.get(view.case_id);
      if (before && before.position >= view.position) continue;
      this.cases.set(view.case_id, view);
      changes.push({ view, before });
    }
    if (changes.length || initial) this.onChange(changes, initial);
  }

  async fill() {
    for (const state of FILL_STATES) {
      let after = '';
      let read = 0;
      while (read < FILL_LIMIT) {
        const q = new URLSearchParams({ cell: this.path, state, limit: '500' });
        if (after) q.set('after', after);
        let page;
        try {
          page = await this.session.api(`/api/v1/cases?${q}`);
        } catch {
          return;
        }
        this.merge(page.cases, true);
        read += page.cases.length;
        if (!page.next) break;
        after = page.next;
      }
    }
  }
}
