// The command-center dashboard (/): one node of the grid tree at a time
// (?cell=path; the breadcrumb moves up and down without reloading), live
// from three kinds of channel — dashboard/{node} for the figures and charts,
// cell/{node} for its cases (the feed, the decisions, the node's children),
// dashboard/{cell} for the heat map of the cells its cases are in — and a
// replay slider that shows the node's dashboard as of any position
// (GET /api/v1/dashboard/{node}?as_of=). docs/screens.md has the details.
import { signIn, userChip } from './session.js';
import { Push, statusPill } from './push.js';
import { CaseBoard } from './case_board.js';
import { DashboardCharts } from './dashboard_charts.js';
import { h, $, setText, setClass, renderList } from './dom.js';
import * as fmt from './format.js';
import { describeChange, decisionsFrom } from './case_changes.js';

const MAX_CELL_CHANNELS = 40; // dashboard/{cell} subscriptions (the server allows 64 per connection)
const FEED_LENGTH = 40;

const session = await signIn();
$('#user').append(userChip(session));
const push = new Push(session);
statusPill(push, $('#status'));

const dashPath = (path) => `/api/v1/dashboard/${path.split('/').map(encodeURIComponent).join('/')}`;

class Dashboard {
  constructor() {
    this.node = null;
    this.live = null; // the node's live dashboard view
    this.head = 0; // the newest position seen
    this.replay = null; // {position, view, cells: Map(path -> view)}: the dashboard as of position
    this.replayWanted = null; // the position the slider asks for
    this.replaySeq = 0; // bumped when a replay ends: its answers still on the way are dropped
    this.replayLoading = false;
    this.children = []; // the node's child paths
    this.childKey = '';
    this.cells = new Map(); // cell path -> {view, stop}: the cells of the heat map
    this.heatMetric = 'open';
    this.feed = [];
    this.board = null;
    this.stops = [];
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
    addEventListener('popstate', () => this.open(this.nodeFromUrl()));
    setInterval(() => this.renderDecisions(), 30000); // deadlines come closer as time passes
    if (session.role === 'auditor') this.followEvents();
    this.open(this.nodeFromUrl());
  }

  nodeFromUrl() {
    const cell = new URL(location.href).searchParams.get('cell');
    return cell !== null && session.covers(cell) ? cell : session.home;
  }

  go(path) {
    if (path === this.node) return;
    const url = new URL(location.href);
    if (path) url.searchParams.set('cell', path);
    else url.searchParams.delete('cell');
    history.pushState(null, '', url.pathname + url.search);
    this.open(path);
  }

  open(path) {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.board?.close();
    for (const c of this.cells.values()) c.stop();
    this.cells.clear();
    this.children = [];
    this.childKey = '';
    this.feed = session.role === 'auditor' ? this.feed : [];
    this.live = null;
    this.exitReplay();
    $('#notice').hidden = true;
    this.node = path;
    document.title = `casegrid · ${fmt.cellName(path)}`;
    this.stops.push(push.subscribe(`dashboard/${path}`, (m) => this.onDashboard(m)));
    this.board = new CaseBoard(
      session,
      push,
      path,
      (changes, initial) => this.onCases(changes, initial),
      (e) => this.showError(e),
    );
    this.renderCrumbs();
    this.renderFeed();
    this.renderDecisions();
    this.renderHeat();
  }

  showError(e) {
    const notice = $('#notice');
    notice.hidden = false;
    setText(notice, `${e.code}: ${e.message}`);
  }

  // ---- the node's dashboard

  onDashboard(m) {
    if (m.type === 'error') return this.showError(m.error);
    const view = m.type === 'subscribed' ? m.snapshot : m.view;
    if (!view) return;
    this.live = view;
    this.seen(view.position);
    if (!this.replay) this.render(view);
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
    setText(f('open-sub'), `${s.reported} reported · ${s.assigned} assigned · ${s.in_progress} in progress`);
    setText(f('reported-today'), view.today.reported);
    setText(f('reported-sub'), `${view.totals.reported} in all`);
    setText(f('resolved-today'), view.today.resolved);
    setText(f('resolved-sub'), `${view.totals.resolved} in all`);
    setText(f('mediation-rate'), fmt.percent(view.mediation.success_rate));
    setText(f('mediation-sub'), `${view.mediation.agreements} agreements in ${view.mediation.sessions} sessions`);
    setText(f('deadlines-missed'), view.deadlines_missed);
    const kinds = Object.entries(view.deadlines_missed_by_kind ?? {}).filter(([, n]) => n > 0);
    setText(f('missed-sub'), kinds.length ? kinds.map(([k, n]) => `${fmt.words(k)} ${n}`).join(' · ') : 'none');
    setClass(document.querySelector('[data-alarm="missed"]'), 'alarm', view.deadlines_missed > 0);
    setText(f('escalations'), view.escalations);
    setText(f('escalations-sub'), `${view.open.by_tier['3']} open at tier 3 · ${view.repeat_disputes} repeat disputes`);
    for (const dim of ['speed', 'attitude', 'outcome']) setText(f(`sat-${dim}`), fmt.percent(view.callbacks.satisfied[dim]));
    for (const p of fmt.PRIORITIES) setText(f(`resp-${p}`), fmt.minutes(view.response_minutes?.[p]?.p50));
    this.charts.render(view);
  }

  // ---- the node's cases: children, feed, decisions

  onCases(changes, initial) {
    if (session.role !== 'auditor') {
      if (initial && !this.feed.length) {
        // Start the feed with the cases that changed last.
        const recent = [...this.board.cases.values()].sort((a, b) => b.position - a.position).slice(0, 12);
        this.feed = recent.map((v) => ({
          key: `${v.case_id}@${v.position}`,
          at: latestTime(v),
          case_id: v.case_id,
          cell: v.cell,
          text: `${fmt.stateName(v.state)} — ${v.summary}`,
          fresh: false,
        }));
      } else if (!initial) {
        for (const { view, before } of changes) {
          this.feed.unshift({
            key: `${view.case_id}@${view.position}`,
            at: new Date().toISOString(),
            case_id: view.case_id,
            cell: view.cell,
            text: describeChange(before, view),
            fresh: true,
          });
        }
        this.feed.length = Math.min(this.feed.length, FEED_LENGTH);
      }
      this.renderFeed();
    }
    for (const { view } of changes) this.seen(view.position);
    this.updateChildren();
    this.renderDecisions();
  }

  // The node's children (for the breadcrumb) and the cells its cases are
  // in (for the heat map), both as far as its cases show them: there is no
  // route that lists the grid.
  updateChildren() {
    const prefix = this.node ? `${this.node}/` : '';
    const children = new Set();
    const cells = new Set();
    for (const v of this.board.cases.values()) {
      if (v.cell !== this.node && !v.cell.startsWith(prefix)) continue;
      cells.add(v.cell);
      if (v.cell === this.node) continue;
      const next = v.cell.indexOf('/', prefix.length);
      children.add(next < 0 ? v.cell : v.cell.slice(0, next));
    }
    for (const path of [...cells].sort()) {
      if (this.cells.has(path)) continue;
      const cell = { view: null, stop: () => {} };
      this.cells.set(path, cell);
      if (this.cells.size <= MAX_CELL_CHANNELS) {
        cell.stop = push.subscribe(`dashboard/${path}`, (m) => {
          const view = m.type === 'subscribed' ? m.snapshot : m.type === 'view' ? m.view : null;
          if (!view) return;
          cell.view = view;
          if (!this.replay) this.renderHeat();
        });
      }
    }
    const key = [...children].sort().join('\n');
    if (key !== this.childKey) {
      this.childKey = key;
      this.children = [...children].sort();
      this.renderCrumbs();
    }
    this.renderHeat();
  }

  heatCells() {
    const paths = [...this.cells.keys()].sort();
    const viewOf = (path) => (this.replay ? this.replay.cells.get(path) : this.cells.get(path)?.view);
    return paths.map((path) => {
      const v = viewOf(path);
      let open = v?.open.total;
      if (open === undefined) {
        // Past the channels we keep: count from the cases we hold.
        open = 0;
        for (const c of this.board.cases.values()) if (c.cell === path && fmt.isOpen(c)) open++;
      }
      return { path, open, missed: v?.deadlines_missed ?? null };
    });
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
          { class: e.fresh ? 'fresh' : '' },
          h('span', { class: 'when' }, fmt.time(e.at)),
          h('span', {}, e.case_id ? h('a', { href: `/case/${e.case_id}` }, e.case_id) : e.title, ' ', h('span', { class: 'muted' }, fmt.cellName(e.cell ?? ''))),
          h('span', { class: 'what' }, e.text),
        );
        return li;
      },
      () => {},
    );
    $('#feed-empty').hidden = this.feed.length > 0;
  }

  renderDecisions() {
    if (!this.board) return;
    const items = decisionsFrom(this.board.cases.values(), Date.now()).slice(0, 30);
    renderList(
      $('#decisions'),
      items,
      (d) => d.key,
      (d) =>
        h(
          'li',
          {},
          h('a', { href: `/case/${d.view.case_id}`, class: 'why' }),
          h('span', {}, h('a', { href: `/case/${d.view.case_id}` }, d.view.case_id), ' ', h('span', { class: 'muted detail' })),
        ),
      (li, d) => {
        li.className = `decision ${d.kind}`;
        setText(li.querySelector('.why'), d.why);
        setText(li.querySelector('.detail'), `${fmt.cellName(d.view.cell)} · ${d.view.summary}`);
      },
    );
    setText($('#decisions-count'), items.length ? String(items.length) : '');
    $('#decisions-empty').hidden = items.length > 0;
  }

  // ---- the auditor's feed: the events channel

  followEvents() {
    $('#feed-title').textContent = 'Newest events (whole log)';
    push.subscribe('events', (m) => {
      if (m.type === 'subscribed' && m.snapshot !== undefined) {
        const from = Math.max(0, m.position - 30);
        session
          .api(`/api/v1/events?after=${from}&limit=30`)
          .then((r) => {
            for (const e of r.events) this.addEvent(e, false);
          })
          .catch(() => {});
        return;
      }
      if (m.type === 'event') this.addEvent(m.event, true);
    });
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
      cell: '',
      text: `#${e.position} ${e.type} by ${e.actor}`,
      fresh,
    });
    this.feed.sort((a, b) => b.position - a.position);
    this.feed.length = Math.min(this.feed.length, FEED_LENGTH);
    this.renderFeed();
  }

  // ---- replay
  //
  // Dragging asks for the node's dashboard as of the slider's position, one
  // request at a time and always the newest position wanted; the heat map's
  // cells follow once the slider rests.

  onSlider() {
    const p = Number(this.slider.value);
    if (p >= this.head) return this.exitReplay();
    if (!this.replay) this.replay = { position: null, view: null, cells: new Map() };
    this.replayWanted = p;
    document.body.classList.add('replaying');
    $('#replay-live').hidden = false;
    this.loadReplay();
    clearTimeout(this.replayCellsTimer);
    this.replayCellsTimer = setTimeout(() => this.loadReplayCells(p), 400);
  }

  async loadReplay() {
    if (this.replayLoading) return;
    this.replayLoading = true;
    const seq = this.replaySeq;
    try {
      while (this.replay && seq === this.replaySeq && this.replay.position !== this.replayWanted) {
        const p = this.replayWanted;
        const label = $('#replay-label');
        delete label.dataset.position;
        setText(label, `Loading position ${p}…`);
        let view;
        try {
          view = await session.api(`${dashPath(this.node)}?as_of=${p}`);
        } catch (e) {
          if (seq === this.replaySeq) setText($('#replay-label'), `Refused — ${e.plain ?? e.message}`);
          return;
        }
        if (!this.replay || seq !== this.replaySeq) return;
        this.replay.position = p;
        this.replay.view = view;
        this.render(view);
        label.dataset.position = String(p);
        setText(label, `As of position ${p} · ${fmt.time(view.as_of)}`);
      }
    } finally {
      this.replayLoading = false;
    }
  }

  async loadReplayCells(p) {
    const seq = this.replaySeq;
    const cells = [...this.cells.keys()].sort().slice(0, MAX_CELL_CHANNELS);
    const views = await Promise.all(cells.map((c) => session.api(`${dashPath(c)}?as_of=${p}`).catch(() => null)));
    if (!this.replay || seq !== this.replaySeq || this.replayWanted !== p) return;
    this.replay.cells = new Map(cells.map((c, i) => [c, views[i]]));
    this.renderHeat();
  }

  exitReplay() {
    this.replaySeq++;
    clearTimeout(this.replayCellsTimer);
    const was = this.replay;
    this.replay = null;
    this.replayWanted = null;
    document.body.classList.remove('replaying');
    $('#replay-live').hidden = true;
    this.slider.value = String(this.head);
    const label = $('#replay-label');
    delete label.dataset.position;
    setText(label, 'Live');
    if (was && this.live) {
      this.render(this.live);
      this.renderHeat();
    }
  }
}

function latestTime(v) {
  return [v.closed_at, v.resolved_at, v.arrived_at, v.accepted_at, v.reported_at].find(Boolean) ?? null;
}

window.casegrid = { push, session, dashboard: new Dashboard() };
