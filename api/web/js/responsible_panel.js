// The dashboard's "Responsible for …" panel: who is assigned to the node
// shown, and who to the cells above it (they also hear of its cases), from
// GET /api/v1/grid/cells/{path} — as it stood when the node was opened, or
// as of the position the replay slider rests on.
//
// No channel carries assignments, and an auditor's every read is recorded,
// so the panel never polls nor reads on a push: the live answer is read when
// the node is opened (and again when the server is on a fresh store), and
// says it is as it stood then. A replay asks one position at a time, always
// the newest chosen; an answer for anything else — an older position, another
// node, the old store — is dropped, never shown as the one asked for.
import { h, $, setText, setParts, setClass, renderList } from './dom.js';
import * as fmt from './format.js';

const LIVE = 'live';

const cellPath = (path) => `/api/v1/grid/cells/${path.split('/').map(encodeURIComponent).join('/')}`;

export class ResponsiblePanel {
  // onChildren(path, children): the cells defined under the node, from the
  // live answer (a screen lists them below it: the dashboard's own read of
  // them would be a second recorded read for an auditor).
  constructor(session, section, onChildren = () => {}) {
    this.session = session;
    this.section = section;
    this.onChildren = onChildren;
    this.path = '';
    this.opening = 0; // bumped on each opening: answers of an earlier one are dropped
    this.wanted = LIVE; // the position asked for, or LIVE
    this.live = null; // {answer, readAt}: this opening's live answer, once read
    this.name = ''; // the cell's name, once an answer gave it
    this.shown = null; // key() of what is on the screen
    this.loading = false;
  }

  // The node opened, or opened again on a fresh store: read as it stands.
  // The grid's root is no cell and nobody is assigned to it: no panel.
  open(path) {
    this.opening++;
    this.path = path;
    this.wanted = LIVE;
    this.live = null;
    this.name = '';
    this.shown = null;
    this.section.hidden = !path;
    if (!path) return;
    // Nothing of the node before held: no list (an empty one would say "Nobody").
    $('#people-lists', this.section).hidden = true;
    setText($('#people-title', this.section), `Responsible for ${fmt.cellName(path)}`);
    this.load();
  }

  // The replay's position, or null for live. Back to live shows the answer
  // read at the opening rather than reading again (a recorded read); one the
  // network kept from coming is asked again.
  at(position) {
    if (!this.path) return;
    this.wanted = position ?? LIVE;
    const live = this.live;
    if (this.wanted === LIVE && live && live.answer.status !== 0) return this.show(this.key(), live.answer, live.readAt);
    this.load();
  }

  key() {
    return `${this.opening}@${this.wanted}`;
  }

  // One request at a time, for the newest wanted: while one is on its way the
  // slider may move on, and the loop then asks for where it rests.
  async load() {
    if (this.loading) return;
    this.loading = true;
    try {
      while (this.path && this.shown !== this.key()) {
        const { opening, wanted, path } = this;
        const key = this.key();
        this.showReading(wanted);
        const answer = await this.read(path, wanted);
        const readAt = new Date().toISOString();
        if (opening !== this.opening) continue;
        if (wanted === LIVE) {
          this.live = { answer, readAt };
          if (answer.cell) this.onChildren(path, answer.cell.children ?? []);
        }
        if (key === this.key()) this.show(key, answer, readAt);
      }
    } finally {
      this.loading = false;
    }
  }

  // {cell} or {status}: the HTTP status of a refusal, 0 when no answer came.
  async read(path, position) {
    const query = position === LIVE ? '' : `?as_of=${position}`;
    try {
      return { cell: await this.session.api(`${cellPath(path)}${query}`) };
    } catch (e) {
      return { status: e.status ?? 0 };
    }
  }

  // What is on the screen is not yet the position asked for: said, and dimmed.
  showReading(wanted) {
    delete this.section.dataset.at;
    this.section.setAttribute('aria-busy', 'true');
    setClass(this.section, 'reading', true);
    setText($('#people-when', this.section), wanted === LIVE ? 'Reading…' : `Reading position ${wanted}…`);
  }

  show(key, answer, readAt) {
    this.shown = key;
    const cell = answer.cell;
    if (cell?.name) this.name = cell.name;
    this.section.dataset.at = String(this.wanted);
    this.section.removeAttribute('aria-busy');
    setClass(this.section, 'reading', false);
    setClass(this.section, 'refused', !cell);
    setText($('#people-title', this.section), `Responsible for ${this.name || fmt.cellName(this.path)}`);
    setText($('#people-when', this.section), cell ? asOfWords(this.wanted, readAt) : refusalWords(answer.status, this.wanted));
    $('#people-lists', this.section).hidden = !cell;
    if (!cell) return;
    this.renderPeople($('#people-own', this.section), cell.people, false);
    this.renderPeople($('#people-above', this.section), cell.above, true);
  }

  // Each person with their role and since when; those above, at which cell.
  // The empty list's line follows it ("Nobody assigned").
  renderPeople(ul, people, above) {
    renderList(
      ul,
      people,
      (a) => `${a.cell ?? ''}|${a.person}|${a.role}|${a.since_position}`,
      // The spaces part the values for a screen reader; the flex layout drops them.
      () => h('li', {}, h('span', { class: 'who' }), ' ', h('span', { class: 'tag role' }), ' ', h('span', { class: 'since' })),
      (li, a) => {
        setParts(li.querySelector('.who'), [[a.person]]); // typed by an admin: isolated (dom.js)
        setText(li.querySelector('.role'), fmt.words(a.role));
        setText(li.querySelector('.since'), `${above ? `at ${fmt.cellName(a.cell)} · ` : ''}since ${fmt.time(a.since)}`);
        li.title = `${above ? `${a.cell}, ` : ''}assigned at position ${a.since_position}`;
      },
    );
    ul.nextElementSibling.hidden = people.length > 0;
  }
}

// A live answer is read once, when the node is opened: it says so, lest an
// assignment made since pass for one that never happened.
function asOfWords(position, readAt) {
  return position === LIVE ? `As it stood when opened, ${fmt.time(readAt)}` : `As of position ${position}`;
}

function refusalWords(status, position) {
  if (status === 404) return position === LIVE ? 'Not a cell of the grid' : `Not yet defined at position ${position}`;
  if (status === 403) return 'Not in your cells';
  if (status === 0) return 'Offline — not read';
  return `Not read (${status})`;
}
