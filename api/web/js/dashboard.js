// The command-center dashboard (/): one node of the grid tree at a time
// (?cell=path; the breadcrumb moves up and down without reloading), live
// from three kinds of channel — dashboard/{node} for the figures and charts,
// cell/{node} for its cases (the feed, the decisions, the node's children),
// dashboard/{cell} for the heat map of the cells its cases are in — and a
// replay slider that shows the node's dashboard as of any position
// (GET /api/v1/dashboard/{node}?as_of=) — and who is responsible for the node
// (responsible_panel.js). docs/screens.md has the details.
import { signIn, userChip } from './session.js';
import { Push, statusPill, refusalBanner } from './push.js';
import { CaseBoard } from './case_board.js';
import { ResponsiblePanel } from './responsible_panel.js';
import { DashboardCharts } from './dashboard_charts.js';
import { h, $, setText, setTitled, setClass, renderList } from './dom.js';
import * as fmt from './format.js';
import { describeChange, decisionsFrom, firstOfEachKind, decisionsName, DECISION_KINDS } from './case_changes.js';

// dashboard/{cell} subscriptions: each costs the server a view per batch, and
// the connection's subscriptions are bounded (docs/api.md, "Bounds").
const MAX_CELL_CHANNELS = 40;
// A replayed cell or node the server did not know then (404 at that position).
const NOT_YET = 'not yet defined';
const FEED_LENGTH = 40;
// The auditor's feed starts from at most this many pages of the log, read
// back from its head (the server's largest page: docs/api.md).
const FEED_PAGES = 4;
const FEED_PAGE_EVENTS = 1000;
// open.by_age's buckets, in the server's order (docs/views.md, "Age buckets").
const AGE_BUCKETS = ['under_1d', '1d_to_3d', '3d_to_7d', '7d_to_30d', 'over_30d'];
// "Needs a decision now" lists at most this many of each kind; a line says
// how many more there are of a kind past that.
const DECISIONS_PER_KIND = 10;
// What pushes change is drawn at most once per this many ms: under a burst a
// node's dashboard, its board and up to 40 cells' tiles each come many times
// a second, and each draw of a chart costs far more than taking the message
// (probe 103: the page used most of a core at 6 writes a second, and fell a
// minute behind at 320).
const DRAW_MS = 250;

const session = await signIn();
// The auditor's feed is the raw log, which the server gives only to an
// auditor of the whole grid (its `events` channel); anyone else follows the
// node's case views.
const FOLLOWS_LOG = session.role === 'auditor' && session.covers('');
$('#user').append(userChip(session));
const push = new Push(session);
statusPill(push, $('#status'));
refusalBanner(push, $('#refused'));

const dashPath = (path) => `/api/v1/dashboard/${path.split('/').map(encodeURIComponent).join('/')}`;

class Dashboard {
  constructor() {
    this.node = null;
    this.live = null; // the node's live dashboard view
    this.head = 0; // the newest position seen
    this.replay = null; // {position, view, cells: Map(path -> view, NOT_YET or null), cellsAt}: as of position
    this.replayWanted = null; // the position the slider asks for
    this.replaySeq = 0; // bumped when a replay ends: its answers still on the way are dropped
    this.replayLoading = null; // the replaySeq whose requests are being made
    this.children = []; // the node's child paths
    this.childKey = '';
    this.cells = new Map(); // cell path -> {view, stop}: the cells of the heat map
    this.heatMetric = 'open';
    this.feed = [];
    this.board = null;
    this.stops = [];
    this.gridChildren = []; // the cells defined under the node, from the grid
    this.toDraw = new Set(); // what drawSoon has to draw
    this.drawTimer = null;
    this.people = new ResponsiblePanel(session, $('#people'), (path, children) => this.onGridChildren(path, children));
    this.charts = new DashboardCharts(
      {
        open: $('#chart-open'),
        intake: $('#chart-intake'),
        response: $('#chart-response'),
        callbacks: $('#chart-callbacks'),
        heat: $('#chart-heat'),
      },
      { onCell: (path) => this.go(path) },
    );
    this.slider = $('#replay-slider');
    this.slider.addEventListener('input', () => this.onSlider());
    $('#replay-live').addEventListener('click', () => this.exitReplay());
    for (const b of $('#heat-toggle').querySelectorAll('button')) {
      b.addEventListener('click', () => {
        this.heatMetric = b.dataset.metric;
        for (const o of $('#heat-toggle').querySelectorAll('button')) o.setAttribute('aria-pressed', String(o === b));
        this.renderHeat();
      });
    }
    addEventListener('popstate', () => this.openFromUrl());
    push.onFreshStore(() => this.startOver());
    setInterval(() => this.renderDecisions(), 30000); // deadlines come closer as time passes
    if (FOLLOWS_LOG) this.followEvents();
    this.openFromUrl();
  }

  // The node the address names, if the token covers it; else the token's
  // first node, and the address is made to name that one — what is shown and
  // what a copied link opens must be the same — with a word why.
  openFromUrl() {
    const asked = new URL(location.href).searchParams.get('cell');
    const path = asked !== null && session.covers(asked) ? asked : session.home;
    if ((asked ?? '') !== path) history.replaceState(null, '', urlFor(path));
    this.open(path);
    if (asked !== null && asked !== path) {
      this.notice(`${asked || 'All cells'} is outside your cells; showing ${path || 'all cells'}.`);
    }
  }

  // The server is on another log (a fresh store, push.js): nothing held is
  // of it — the positions seen, the feed, the node's cases, cells and replay
  // — so the node is opened again from the new log's snapshots (and who is
  // responsible for it read again from the new log).
  startOver() {
    this.head = 0;
    this.feed = [];
    this.feedLoaded = false;
    this.slider.min = '0';
    this.slider.max = '0';
    this.open(this.node);
  }

  go(path) {
    if (path === this.node) return;
    history.pushState(null, '', urlFor(path));
    this.open(path);
  }

  open(path) {
    clearTimeout(this.dayTurnTimer);
    for (const stop of this.stops) stop();
    this.stops = [];
    this.board?.close();
    for (const c of this.cells.values()) c.stop();
    this.cells.clear();
    this.children = [];
    this.childKey = '';
    this.feed = FOLLOWS_LOG ? this.feed : [];
    this.live = null;
    this.blank();
    this.exitReplay();
    this.notice('');
    this.node = path;
    this.gridChildren = [];
    this.people.open(path); // read once: it is on no channel, and not polled
    // The root is no cell (no panel): its districts are read on their own, once.
    if (!path) {
      session
        .api('/api/v1/grid/cells')
        .then((root) => this.onGridChildren('', root.children ?? []))
        .catch(() => {}); // the districts the cases show are listed still
    }
    document.title = `casegrid · ${fmt.cellName(path)}`;
    this.stops.push(push.subscribe(`dashboard/${path}`, (m) => this.onDashboard(m)));
    // A refused subscription is on the page's banner (refusalBanner).
    this.board = new CaseBoard(session, push, path, (changes, initial) => this.onCases(changes, initial));
    this.renderCrumbs();
    this.renderFeed();
    this.renderDecisions();
    this.renderHeat();
  }

  // No figures until the node's first view comes: those on the screen are
  // another node's (review 109: a subscribe refused for the rate left the
  // last node's figures under the new node's name).
  blank() {
    for (const el of document.querySelectorAll('[data-figure]')) {
      if (el.classList.contains('trio')) {
        el.replaceChildren();
        delete el.dataset.counts;
      } else {
        setText(el, el.classList.contains('value') ? '—' : '');
      }
    }
    setClass(document.querySelector('[data-alarm="missed"]'), 'alarm', false);
    this.charts.clear();
  }

  notice(text) {
    const el = $('#notice');
    el.hidden = !text;
    setText(el, text);
  }

  // ---- the node's dashboard

  onDashboard(m) {
    const view = m.type === 'subscribed' ? m.snapshot : m.view;
    if (!view) return;
    this.live = view;
    this.seen(view.position);
    this.readAtDayTurn();
    if (this.replay) return;
    this.drawSoon('node');
    if (this.cells.has(this.node)) this.drawSoon('heat'); // the node's own tile (liveCell)
  }

  // "Today" and the intake curve are the server's day's (UTC +
  // day_offset_hours), read when the dashboard is read; a push comes only
  // with an event, so on a quiet night the page would show yesterday's
  // "today" until the next one. At the day's turn the node's dashboard is
  // read again (one request a day: an auditor's reads are recorded).
  readAtDayTurn() {
    clearTimeout(this.dayTurnTimer);
    const node = this.node;
    const offsetMs = (this.live?.day_offset_hours ?? 0) * 3600000;
    const day = 86400000;
    const now = Date.now();
    const turn = (Math.floor((now + offsetMs) / day) + 1) * day - offsetMs;
    this.dayTurnTimer = setTimeout(async () => {
      let view;
      try {
        view = await session.api(dashPath(node));
      } catch {
        return this.readAtDayTurn(); // the next day's turn, or the next push
      }
      if (node !== this.node || !this.live || view.position < this.live.position) return;
      this.onDashboard({ type: 'view', view });
    }, turn - now + 2000);
  }

  seen(position) {
    if (position <= this.head) return;
    this.head = position;
    this.slider.max = String(position);
    this.slider.min = '1';
    if (!this.replay) this.slider.value = String(position);
  }

  render(view) {
    const f = (name) => document.querySelector(`[data-figure="${name}"]`);
    const s = view.open.by_state;
    setText(f('open-total'), view.open.total);
    setText(
      f('open-sub'),
      `${s.reported} reported · ${s.assigned} assigned · ${s.in_progress} in progress` +
        (view.open.overdue === undefined ? '' : ` · ${view.open.overdue} overdue`),
    );
    setText(f('reported-today'), view.today.reported);
    setText(f('reported-sub'), `${view.totals.reported} in all`);
    setText(f('resolved-today'), view.today.resolved);
    // Resolutions, not cases: a case reopened and resolved again counts twice
    // (docs/views.md; review 109 read "2 in all" of one case as two cases).
    setText(f('resolved-sub'), `${fmt.count(view.totals.resolved, 'resolution')} in all`);
    // Per case, as the field reports it (DOMAIN.md's 99.6%); per session below.
    // (A server before session 29 gives the per-session figures only.)
    const cases = view.mediation.cases;
    const perSession = `${view.mediation.agreements} agreements in ${view.mediation.sessions} sessions`;
    setText(f('mediation-rate'), fmt.percent(cases ? cases.success_rate : view.mediation.success_rate));
    setText(f('mediation-sub'), cases ? `${cases.agreed} of ${cases.mediated} cases agreed · ${perSession}` : perSession);
    setText(f('deadlines-missed'), view.deadlines_missed);
    const kinds = Object.entries(view.deadlines_missed_by_kind ?? {}).filter(([, n]) => n > 0);
    // The count is of the whole log; the alarm is for what is overdue now
    // (review 109: red for good once one deadline was ever missed).
    const overdue = view.open.overdue;
    setText(
      f('missed-sub'),
      `in all${kinds.length ? `: ${kinds.map(([k, n]) => `${fmt.words(k)} ${n}`).join(' · ')}` : ''}` +
        (overdue === undefined ? '' : ` · ${overdue} overdue now`),
    );
    setClass(document.querySelector('[data-alarm="missed"]'), 'alarm', overdue === undefined ? view.deadlines_missed > 0 : overdue > 0);
    setText(f('escalations'), view.escalations);
    setText(f('escalations-sub'), `${view.open.by_tier['3']} open at tier 3 · ${view.repeat_disputes} repeat disputes`);
    for (const dim of ['speed', 'attitude', 'outcome']) setText(f(`sat-${dim}`), fmt.percent(view.callbacks.satisfied[dim]));
    // Every case, open or not, by kind and by channel (a server before
    // session 30 has no `cases`: the two figures are hidden).
    const byKind = view.cases ? Object.entries(view.cases.by_kind) : null;
    const byChannel = view.cases ? Object.entries(view.cases.by_channel).sort((a, b) => b[1].total - a[1].total).slice(0, 4) : null;
    counts(f('by-kind'), byKind, view.open.by_kind);
    counts(f('by-channel'), byChannel);
    // Open cases by whole days since their report, and hazards open and
    // rectified (each part hidden for a server that does not send it).
    const ages = view.open.by_age;
    document.querySelector('[data-part="by-age"]').hidden = !ages;
    for (const bucket of AGE_BUCKETS) setText(f(`age-${bucket}`), ages?.[bucket] ?? '—');
    document.querySelector('[data-part="hazards"]').hidden = !view.hazards;
    setText(f('hazards-open'), view.hazards?.open ?? '—');
    setText(f('hazards-rectified'), view.hazards?.rectified ?? '—');
    for (const p of fmt.PRIORITIES) setText(f(`resp-${p}`), fmt.minutes(view.response_minutes?.[p]?.p50));
    // The hours are the server's local ones (serve --day-offset-hours); a
    // server that does not say counts by UTC.
    setText($('#intake-zone'), fmt.utcName(view.day_offset_hours ?? 0));
    // A log younger than a week averages the days it has (previous_days).
    const days = view.intake_hourly.previous_days ?? 7;
    setText($('#intake-days'), intakeAgainst(days));
    this.charts.render(view);
  }

  // ---- the node's cases: children, feed, decisions

  onCases(changes, initial) {
    if (!FOLLOWS_LOG) {
      if (initial && !this.feed.length) {
        // Start the feed with the cases that changed last. A case view says
        // where in the log it last changed (its position), not what changed
        // nor when, so these say only the state the case is in now, with no
        // time: a resolved_at or reported_at would date another change.
        const recent = [...this.board.cases.values()].sort((a, b) => b.position - a.position).slice(0, 12);
        this.feed = recent.map((v) => ({
          key: `${v.case_id}@${v.position}`,
          at: null,
          position: v.position,
          case_id: v.case_id,
          cell: v.cell,
          text: `Now ${fmt.stateName(v.state).toLowerCase()} — ${v.summary}`,
          fresh: false,
          earlier: true,
        }));
      } else if (!initial) {
        for (const { view, before } of changes) {
          // A case's "Now …" from the snapshot is not so any more.
          this.feed = this.feed.filter((e) => !(e.earlier && e.case_id === view.case_id));
          this.feed.unshift({
            key: `${view.case_id}@${view.position}`,
            at: new Date().toISOString(), // when the page heard of it: a push comes as the change is written
            position: view.position,
            case_id: view.case_id,
            cell: view.cell,
            text: describeChange(before, view),
            fresh: true,
          });
        }
        this.feed.length = Math.min(this.feed.length, FEED_LENGTH);
      }
      this.drawSoon('feed');
    }
    for (const { view } of changes) this.seen(view.position);
    this.updateChildren();
    this.drawSoon('decisions');
  }

  // Draws `part` ('node', 'heat', 'feed', 'decisions') within DRAW_MS, once
  // however many pushes asked for it meanwhile.
  drawSoon(part) {
    this.toDraw.add(part);
    if (this.drawTimer) return;
    this.drawTimer = setTimeout(() => {
      this.drawTimer = null;
      const parts = this.toDraw;
      this.toDraw = new Set();
      if (parts.has('node') && !this.replay && this.live) this.render(this.live);
      if (parts.has('heat')) this.renderHeat();
      if (parts.has('feed')) this.renderFeed();
      if (parts.has('decisions')) this.renderDecisions();
    }, DRAW_MS);
  }

  // The grid's cells under the node, read when it was opened: listed below
  // it whether or not they have cases (a child whose cases were all closed
  // could be reached only by typing its path: black-box probe 91).
  onGridChildren(path, children) {
    if (path !== this.node) return;
    this.gridChildren = children;
    this.updateChildren();
  }

  // The node's children (for the breadcrumb): the grid's, and those its
  // cases show (a cell defined since the node was opened); and the cells
  // its cases are in (for the heat map).
  updateChildren() {
    const prefix = this.node ? `${this.node}/` : '';
    const children = new Set(this.gridChildren);
    const cells = new Set();
    for (const v of this.board.cases.values()) {
      if (v.cell !== this.node && !v.cell.startsWith(prefix)) continue;
      cells.add(v.cell);
      if (v.cell === this.node) continue;
      const next = v.cell.indexOf('/', prefix.length);
      children.add(next < 0 ? v.cell : v.cell.slice(0, next));
    }
    // A cell whose cases have all closed leaves the heat map, and its channel
    // ends (the board lets closed cases go).
    for (const [path, cell] of this.cells) {
      if (cells.has(path)) continue;
      cell.stop();
      this.cells.delete(path);
    }
    for (const path of [...cells].sort()) {
      if (this.cells.has(path)) continue;
      const cell = { view: null, stop: () => {} };
      this.cells.set(path, cell);
      // The node's own cases (a leaf): its tile is the node's dashboard,
      // followed already. A second subscription of one channel would replace
      // the first's handler (push.js keeps one per channel).
      if (path === this.node) continue;
      if (this.cells.size <= MAX_CELL_CHANNELS) {
        cell.stop = push.subscribe(`dashboard/${path}`, (m) => {
          const view = m.type === 'subscribed' ? m.snapshot : m.type === 'view' ? m.view : null;
          if (!view) return;
          cell.view = view;
          if (!this.replay) this.drawSoon('heat');
        });
      }
    }
    const key = [...children].sort().join('\n');
    if (key !== this.childKey) {
      this.childKey = key;
      this.children = [...children].sort();
      this.renderCrumbs();
    }
    this.drawSoon('heat');
  }

  // [{path, open, missed, absent, note}] for the heat map: null where not known.
  heatCells() {
    const paths = [...this.cells.keys()].sort();
    return paths.map((path) => (this.replay ? this.replayedCell(path) : this.liveCell(path)));
  }

  liveCell(path) {
    const v = path === this.node ? this.live : this.cells.get(path)?.view;
    if (v) return { path, open: v.open.total, missed: v.deadlines_missed };
    // Past the channels we keep (or before its first answer): count the open
    // cases from those we hold; missed deadlines are not in a case count.
    let open = 0;
    for (const c of this.board.cases.values()) if (c.cell === path && fmt.isOpen(c)) open++;
    return { path, open, missed: null };
  }

  // A cell as of the replayed position, never its live figures: its view
  // then, empty if it was not defined yet, unknown until its answer comes
  // (or when none does: past the cells read, or refused).
  replayedCell(path) {
    const v = this.replay.cells.get(path);
    if (v === NOT_YET) return { path, open: 0, missed: 0, absent: true, note: NOT_YET };
    if (v) return { path, open: v.open.total, missed: v.deadlines_missed };
    return { path, open: null, missed: null, note: 'not known at this position' };
  }

  renderHeat() {
    this.charts.renderHeat(this.heatCells(), this.heatMetric);
  }

  renderCrumbs() {
    const nav = $('#crumbs');
    const parts = [];
    const rootCovered = session.covers('');
    const link = (path, label) =>
      path === this.node
        ? h('span', { class: 'here', 'aria-current': 'page' }, label)
        : session.covers(path)
          ? h('a', { href: path ? `/?cell=${path}` : '/', dataset: { cell: path }, onclick: (e) => (e.preventDefault(), this.go(path)) }, label)
          : h('span', { class: 'muted' }, label);
    if (!rootCovered && session.cells.length > 1) {
      // A token for cells with no covered node above them all: each is
      // reached from here, not only the first.
      const mine = session.cells.find((c) => this.node === c || this.node.startsWith(`${c}/`));
      parts.push(
        h(
          'select',
          { 'aria-label': 'my cells', id: 'crumb-cells', onchange: (e) => this.go(e.target.value) },
          ...session.cells.map((c) => h('option', { value: c, selected: c === mine }, c)),
        ),
        h('span', { class: 'sep' }, '·'),
      );
    }
    parts.push(link('', 'All cells'));
    if (!rootCovered && !this.node) parts.pop();
    const segs = this.node ? this.node.split('/') : [];
    segs.forEach((seg, i) => {
      if (parts.length) parts.push(h('span', { class: 'sep' }, '›'));
      parts.push(link(segs.slice(0, i + 1).join('/'), seg));
    });
    const kids = this.children;
    if (kids.length) {
      const select = h(
        'select',
        { 'aria-label': 'go down to', id: 'crumb-down', onchange: (e) => e.target.value && this.go(e.target.value) },
        h('option', { value: '' }, `▾ ${kids.length} below`),
        ...kids.map((k) => h('option', { value: k }, fmt.cellName(k))),
      );
      parts.push(h('span', { class: 'sep' }, '›'), select);
    }
    nav.replaceChildren(...parts);
  }

  renderFeed() {
    const ul = $('#feed');
    renderList(
      ul,
      this.feed,
      (e) => e.key,
      (e) => {
        const li = h(
          'li',
          { class: e.fresh ? 'fresh' : e.earlier ? 'earlier' : '', title: e.position ? `position ${e.position}` : null },
          h('span', { class: 'when' }, e.at ? fmt.timeElement(e.at) : ''),
          h('span', {}, e.case_id ? h('a', { href: `/case/${e.case_id}` }, e.case_id) : e.title, ' ', e.cell === null ? '' : h('span', { class: 'muted' }, fmt.cellName(e.cell))),
          h('span', { class: 'what' }, e.text),
        );
        return li;
      },
      () => {},
    );
    $('#feed-empty').hidden = this.feed.length > 0;
  }

  // Each kind of decision has its place (DECISIONS_PER_KIND, then how many
  // more); the count is all of them, a floor ("120+") while the board does
  // not hold every case of the node.
  renderDecisions() {
    if (!this.board) return;
    const all = decisionsFrom(this.board.cases.values(), Date.now());
    renderList(
      $('#decisions'),
      firstOfEachKind(all, DECISIONS_PER_KIND),
      (d) => d.key,
      (d) =>
        d.more !== undefined
          ? h('li', { class: `decision more ${d.kind}` })
          : h(
              'li',
              {},
              h('a', { href: `/case/${d.view.case_id}`, class: 'why' }),
              h('span', {}, h('a', { href: `/case/${d.view.case_id}` }, d.view.case_id), ' ', h('span', { class: 'muted detail' })),
            ),
      (li, d) => {
        if (d.more !== undefined) return setText(li, `and ${d.more} more ${decisionsName(d.more, d.kind)}`);
        li.className = `decision ${d.kind}`;
        setText(li.querySelector('.why'), d.why);
        setText(li.querySelector('.detail'), `${fmt.cellName(d.view.cell)} · ${d.view.summary}`);
      },
    );
    const kinds = Object.keys(DECISION_KINDS)
      .map((kind) => [all.filter((d) => d.kind === kind).length, kind])
      .filter(([n]) => n > 0);
    setText($('#decisions-kinds'), kinds.map(([n, kind]) => `${n} ${decisionsName(n, kind)}`).join(' · '));
    const floor = !this.board.complete;
    setText($('#decisions-count'), all.length ? `${all.length}${floor ? '+' : ''}` : '');
    $('#decisions-count').title = floor && all.length ? `at least ${all.length}: the page has not read every case of this node` : '';
    $('#decisions-empty').hidden = all.length > 0;
  }

  // ---- the auditor's feed: the events channel

  followEvents() {
    $('#feed-title').textContent = 'Newest events (whole log)';
    push.subscribe('events', (m) => {
      // The newest events are read back once (and again on a fresh store);
      // a resume's `subscribed` brings what was missed as events (review 109:
      // each resume read the log's last pages again, each read recorded).
      if (m.type === 'subscribed') {
        if (!this.feedLoaded) {
          this.feedLoaded = true;
          this.loadNewestEvents(m.position).catch(() => (this.feedLoaded = false)); // read at the next subscribe
        }
        return;
      }
      if (m.type === 'event') this.addEvent(m.event, true);
    });
  }

  // The newest events of cases and the grid before `head`, for the feed to
  // start with. An auditor's own reads are events too (audit/), and every
  // page read adds one, so runs of them are passed over by reading back a
  // page of the log at a time — at most FEED_PAGES pages, each one more
  // recorded read — until the feed has FEED_LENGTH events.
  async loadNewestEvents(head) {
    let end = head; // the pages read cover (end, head]
    for (let page = 0; page < FEED_PAGES && end > 0; ++page) {
      const from = Math.max(0, end - FEED_PAGE_EVENTS);
      const r = await session.api(`/api/v1/events?after=${from}&limit=${end - from}`);
      for (const e of r.events) this.addEvent(e, false);
      end = from;
      if (this.feed.length >= FEED_LENGTH) break;
    }
  }

  addEvent(e, fresh) {
    if (e.stream.startsWith('audit/')) return;
    if (this.feed.some((f) => f.key === `e${e.position}`)) return;
    const caseId = e.stream.startsWith('case/') ? e.stream.slice(5) : '';
    this.feed.push({
      key: `e${e.position}`,
      position: e.position,
      at: e.recorded_at,
      case_id: caseId,
      title: e.stream,
      cell: null, // an event names no cell; the case's is in its view
      text: `#${e.position} ${e.type} by ${e.actor}`,
      fresh,
    });
    this.feed.sort((a, b) => b.position - a.position);
    this.feed.length = Math.min(this.feed.length, FEED_LENGTH);
    this.drawSoon('feed');
  }

  // ---- replay
  //
  // Dragging asks for the node's dashboard as of the slider's position, one
  // request at a time and always the newest position wanted; the heat map's
  // cells follow once the slider rests.

  onSlider() {
    const p = Number(this.slider.value);
    if (p >= this.head) return this.exitReplay();
    // cells: the heat map's cells as of cellsAt (null: none, shown unknown).
    if (!this.replay) this.replay = { position: null, view: null, cells: new Map(), cellsAt: undefined };
    this.replayWanted = p;
    document.body.classList.add('replaying');
    $('#replay-live').hidden = false;
    this.people.at(p);
    if (this.replay.cellsAt !== null && this.replay.cellsAt !== p) {
      // The tiles of another position (or live ones) must not pass for p's.
      this.replay.cells = new Map();
      this.replay.cellsAt = null;
      this.renderHeat();
    }
    this.loadReplay();
    clearTimeout(this.replayCellsTimer);
    this.replayCellsTimer = setTimeout(() => this.loadReplayCells(p), 400);
  }

  // One loop of requests per replay (replaySeq): a loop still waiting on an
  // answer for a replay that has ended does not keep the next replay's
  // positions from being asked (it did: back to live, then the slider moved
  // before that answer came, and the new position was never read).
  async loadReplay() {
    const seq = this.replaySeq;
    if (this.replayLoading === seq) return;
    this.replayLoading = seq;
    try {
      while (this.replay && seq === this.replaySeq && this.replay.position !== this.replayWanted) {
        const p = this.replayWanted;
        const label = $('#replay-label');
        delete label.dataset.position;
        setTitled(label, `Loading position ${p}…`);
        let view;
        try {
          view = await this.askAsOf(this.node, p);
        } catch (e) {
          if (seq !== this.replaySeq) return;
          if (e.code === 'abandoned') continue; // the slider moved on while it waited
          if (e.status !== 404) {
            // What is on the screen is not p's: say so, and grey it.
            document.body.classList.add('replay-stale');
            setTitled(label, `Refused — ${e.plain ?? e.message}`);
            return;
          }
          view = null; // the node was not defined yet at p
        }
        if (!this.replay || seq !== this.replaySeq) return;
        this.replay.position = p;
        this.replay.view = view;
        document.body.classList.remove('replay-stale');
        this.render(view ?? emptyDashboard(this.node, this.live));
        label.dataset.position = String(p);
        setTitled(label, `As of position ${p} · ${view ? fmt.time(view.as_of) : `${this.node} ${NOT_YET}`}`);
      }
    } finally {
      if (this.replayLoading === seq) this.replayLoading = null;
    }
  }

  // A node's dashboard as of p, read once however many parts of the screen
  // want it: a leaf's own tile is the node itself, and an auditor's every
  // read is recorded (black-box probe 91 found each slider position of a
  // leaf recorded twice). Only the latest position's reads are kept.
  askAsOf(path, p) {
    if (this.asked?.p !== p) this.asked = { p, reads: new Map() };
    const reads = this.asked.reads;
    let read = reads.get(path);
    if (!read) {
      // Not sent once the slider has moved on (or back to live) while it
      // waited; such a read is not kept, so that p asked again is read
      // (review 111: the replay loop, given the kept refusal back at once,
      // turned without end and froze the tab).
      read = session
        .api(`${dashPath(path)}?as_of=${p}`, { wanted: () => this.replay !== null && this.replayWanted === p })
        .catch((e) => {
          if (e.code === 'abandoned' && reads.get(path) === read) reads.delete(path);
          throw e;
        });
      reads.set(path, read);
    }
    return read;
  }

  async loadReplayCells(p) {
    const seq = this.replaySeq;
    const cells = [...this.cells.keys()].sort().slice(0, MAX_CELL_CHANNELS);
    const asOf = (c) => this.askAsOf(c, p).catch((e) => (e.status === 404 ? NOT_YET : null));
    const views = await Promise.all(cells.map(asOf));
    if (!this.replay || seq !== this.replaySeq || this.replayWanted !== p) return;
    this.replay.cells = new Map(cells.map((c, i) => [c, views[i]]));
    this.replay.cellsAt = p;
    this.renderHeat();
  }

  exitReplay() {
    this.replaySeq++;
    this.asked = null;
    clearTimeout(this.replayCellsTimer);
    const was = this.replay;
    this.replay = null;
    this.replayWanted = null;
    document.body.classList.remove('replaying', 'replay-stale');
    $('#replay-live').hidden = true;
    this.slider.value = String(this.head);
    const label = $('#replay-label');
    delete label.dataset.position;
    setTitled(label, 'Live');
    if (was) this.people.at(null);
    if (was && this.live) {
      this.render(this.live);
      this.renderHeat();
    }
  }
}

// The intake chart's title after "today": what its curve is the average of.
function intakeAgainst(days) {
  if (days === 0) return ', no earlier day to compare yet';
  return days === 1 ? ' against the day before' : ` against the last ${days} days`;
}

// Fills a figure's row with `entries` ([name, {total, resolved}]): each the
// total, its name, how many are resolved and, given `open` ({name: open
// now}), how many are open; hides the figure when null.
function counts(row, entries, open) {
  if (!row) return;
  row.closest('.figure').hidden = !entries;
  if (!entries) return;
  const key = JSON.stringify([entries, open]);
  if (row.dataset.counts === key) return;
  row.dataset.counts = key;
  row.replaceChildren(
    ...entries.map(([name, c]) =>
      h(
        'div',
        {},
        h('div', { class: 'value' }, String(c.total)),
        h('div', { class: 'sub' }, `${fmt.words(name)} · ${c.resolved} resolved${open ? ` · ${open[name] ?? 0} open` : ''}`),
      ),
    ),
  );
}

// `like`'s keys, each with zero() (an object of counts: a fresh one each).
function zeroEach(like, zero) {
  return Object.fromEntries(Object.keys(like).map((k) => [k, zero()]));
}

function zeroCounts(like) {
  return zeroEach(like, () => ({ total: 0, resolved: 0 }));
}

// The dashboard of a node as of a position before it was defined: nothing
// in it, as the server would fold it had the node been there.
function emptyDashboard(path, live) {
  const zeros = () => Array.from({ length: 24 }, () => 0);
  return {
    cell: path,
    day_offset_hours: live?.day_offset_hours ?? 0,
    open: {
      total: 0,
      by_state: { reported: 0, assigned: 0, in_progress: 0 },
      by_tier: { 1: 0, 2: 0, 3: 0 },
      by_kind: live?.open.by_kind ? zeroEach(live.open.by_kind, () => 0) : undefined,
      by_age: live?.open.by_age ? zeroEach(live.open.by_age, () => 0) : undefined,
      overdue: 0,
    },
    today: { reported: 0, resolved: 0 },
    totals: { reported: 0, resolved: 0, reopened: 0 },
    cases: live?.cases ? { by_kind: zeroCounts(live.cases.by_kind), by_channel: zeroCounts(live.cases.by_channel) } : undefined,
    intake_hourly: { today: zeros(), previous_7_days_average: zeros() },
    mediation: { sessions: 0, agreements: 0, success_rate: null, cases: { mediated: 0, agreed: 0, success_rate: null } },
    callbacks: { due: 0, completed: 0, overdue: 0, unreachable: 0, satisfied: { speed: null, attitude: null, outcome: null } },
    hazards: live?.hazards ? { open: 0, rectified: 0 } : undefined,
    escalations: 0,
    deadlines_missed: 0,
    deadlines_missed_by_kind: {},
    repeat_disputes: 0,
    response_minutes: {},
    arrival_minutes: {},
  };
}

function urlFor(path) {
  const url = new URL(location.href);
  if (path) url.searchParams.set('cell', path);
  else url.searchParams.delete('cell');
  return url.pathname + url.search;
}

window.casegrid = { push, session, dashboard: new Dashboard() };
