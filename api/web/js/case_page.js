// A case (/case/{id}): its view, its timeline — every event with who, when,
// what, and the case's state after it — and a replay slider over the
// timeline that shows the view as it stood after any step (GET
// /api/v1/cases/{id}?as_of=<that event's position>).
//
// The timeline is the case/{id} channel subscribed with after = 0: the
// server sends each event of the case with the view after it, from the
// first, then live. For those who do not handle the case the server leaves
// out the events' data and masks the views, as on HTTP.
import { signIn, userChip } from './session.js';
import { Push, statusPill } from './push.js';
import { ActionPanel, onTheWayAfter } from './lifecycle.js';
import { h, $, setText, setTitled, setParts, value, renderList } from './dom.js';
import * as fmt from './format.js';

const session = await signIn();
$('#user').append(userChip(session));
const push = new Push(session);
statusPill(push, $('#status'));
const caseId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
document.title = `casegrid · ${caseId}`;
setText($('#case-id'), caseId);

const casePath = `/api/v1/cases/${encodeURIComponent(caseId)}`;
const steps = []; // {event, view}, oldest first
const positions = new Set(); // of the steps' events
let onTheWay = false; // whether the signed-in officer is on the way, after the newest step
let replay = null; // {index, view, shown: the index whose view is on the screen}
const slider = $('#replay-slider');
const actions = session.handlesCases ? new ActionPanel(session) : null;
if (actions) $('#actions').append(actions.el);

push.subscribe(
  `case/${caseId}`,
  (m) => {
    if (m.type === 'error') return showError(`${m.error.code}: ${m.error.message}`);
    // A refusal that passed (push.js asks again): taken now.
    if (m.type === 'subscribed') return hideError();
    if (m.type !== 'event') return;
    if (positions.has(m.position)) return;
    positions.add(m.position);
    steps.push({ event: m.event, view: m.view });
    onTheWay = onTheWayAfter(onTheWay, m.event, session.sub);
    drawSoon();
  },
  { after: 0 },
);

// The server is on another log (a fresh store, push.js): the steps held are
// another case's, even under this id. They are dropped, and the channel
// starts again from the new log's first event of the case.
push.onFreshStore(() => {
  steps.length = 0;
  positions.clear();
  onTheWay = false;
  replay = null;
  timelineMarked = null;
  $('#timeline').replaceChildren();
  setText($('#timeline-count'), '');
  slider.max = '0';
  slider.value = '0';
  document.body.classList.remove('replaying', 'no-case');
  $('#replay-live').hidden = true;
  setTitled($('#replay-label'), 'Live');
  delete $('#replay-label').dataset.position;
  $('#case-error').hidden = true;
  $('#case-state').className = 'state';
  for (const el of [$('#case-state'), $('#case-as-of'), $('#case-summary')]) setText(el, '');
  $('#facts').replaceChildren();
  if (actions) actions.el.hidden = true;
});

slider.addEventListener('input', () => choose(Number(slider.value)));
$('#replay-live').addEventListener('click', () => choose(steps.length - 1));

// A case's events come by the thousand on opening (a case holds up to
// 10,000): what they change is drawn at most every DRAW_EVERY_MS, the
// timeline's new rows appended, never the whole list again. (Drawn each
// frame, the browser spent seconds laying out a long list again and again.)
const DRAW_EVERY_MS = 200;
let drawPending = false;
let drawnAt = 0;
function drawSoon() {
  if (drawPending) return;
  drawPending = true;
  setTimeout(() => requestAnimationFrame(draw), Math.max(0, drawnAt + DRAW_EVERY_MS - performance.now()));
}

function draw() {
  drawPending = false;
  drawnAt = performance.now();
  if (!steps.length) return; // dropped meanwhile (a fresh store)
  slider.max = String(steps.length - 1);
  if (!replay) {
    slider.value = slider.max;
    showView(steps[steps.length - 1].view, null);
  } else if (replay.view && replay.shown === replay.index) {
    labelStep(); // "of N" counts the steps come since
  }
  renderTimeline();
}

// The case's one channel was refused (not found, out of scope): said in
// place of the case, with nothing of a case's layout around it.
function hideError() {
  $('#case-error').hidden = true;
  if (steps.length === 0) document.body.classList.remove('no-case');
}

function showError(text) {
  const el = $('#case-error');
  el.hidden = false;
  setText(el, text);
  if (steps.length === 0) document.body.classList.add('no-case');
}

function choose(index) {
  slider.value = String(index);
  if (index >= steps.length - 1) {
    replay = null;
    document.body.classList.remove('replaying');
    $('#replay-live').hidden = true;
    setTitled($('#replay-label'), 'Live');
    delete $('#replay-label').dataset.position;
    if (steps.length) showView(steps[steps.length - 1].view, null);
    renderTimeline();
    return;
  }
  replay = { index, view: null, shown: null };
  document.body.classList.add('replaying');
  $('#replay-live').hidden = false;
  setTitled($('#replay-label'), `Loading step ${index + 1}…`);
  renderTimeline();
  loadReplay();
}

// One as_of request at a time, for the step last chosen: a slider dragged
// over fifty steps asks for a few, not fifty (an auditor's every read is
// recorded as an event).
let replayLoading = false;
function loadReplay() {
  if (replayLoading || !replay || replay.shown === replay.index) return;
  replayLoading = true;
  const index = replay.index;
  const step = steps[index];
  const current = () => replay && replay.index === index;
  session
    .api(`${casePath}?as_of=${step.event.position}`)
    .then((view) => {
      if (!current()) return;
      replay.view = view;
      replay.shown = index;
      showView(view, step);
      labelStep();
    })
    .catch((e) => {
      if (!current()) return;
      replay.shown = index;
      setTitled($('#replay-label'), `Refused — ${e.plain ?? e.message}`);
    })
    .finally(() => {
      replayLoading = false;
      loadReplay();
    });
}

// The label of the step replayed: "Step 3 of 11 · position … · type · time".
function labelStep() {
  const index = replay.shown;
  const step = steps[index];
  const label = $('#replay-label');
  label.dataset.position = String(step.event.position);
  setTitled(label, `Step ${index + 1} of ${steps.length} · position ${step.event.position} · ${step.event.type} · ${fmt.time(step.event.recorded_at)}`);
}

function showView(view, step) {
  const state = $('#case-state');
  state.className = `state ${view.state}`;
  setText(state, fmt.stateName(view.state));
  setText($('#case-as-of'), step ? `as it stood after version ${view.version}` : `version ${view.version}`);
  setText($('#case-summary'), view.summary);
  renderCrumbs(view.cell);
  const dl = $('#facts');
  const rows = facts(view);
  renderList(
    dl,
    rows,
    ([k]) => k,
    ([k]) => h('div', { class: 'fact' }, h('dt', {}, k), h('dd', {})),
    (el, [, v, cls]) => {
      const dd = el.querySelector('dd');
      dd.className = cls ?? '';
      if (Array.isArray(v)) setParts(dd, v);
      else setText(dd, v);
    },
  );
  if (actions) {
    actions.el.hidden = Boolean(step);
    if (!step) actions.render(view, { onTheWay });
  }
}

function facts(v) {
  const rows = [
    ['Kind', `${v.kind} · ${fmt.words(v.category)}`],
    ['Priority', v.priority],
    ['Channel', fmt.words(v.channel)],
    ['Cell', v.cell],
    ['Tier', v.judicial ? `${v.tier} · with ${v.judicial}` : String(v.tier)],
    ['Assignee', v.assignee ?? '—'],
    ['Reporter', v.reporter?.name || v.reporter?.phone ? [[v.reporter.name ?? ''], ' ', [v.reporter.phone ?? '']] : '—'],
    ['Address', v.address ?? '—'],
    ['Reported', fmt.time(v.reported_at)],
    ['Accepted', fmt.time(v.accepted_at)],
    ['Arrived', fmt.time(v.arrived_at)],
    ['Resolved', v.resolved_at ? `${fmt.time(v.resolved_at)} · ${fmt.words(v.resolution)}` : '—'],
    ['Closed', fmt.time(v.closed_at)],
  ];
  for (const d of v.deadlines) {
    const status = d.met ? 'met' : d.missed ? 'missed' : d.warned ? 'due soon' : 'open';
    rows.push([`Deadline ${fmt.words(d.deadline)}`, `${fmt.time(d.due_at)} · ${status}`, `deadline-row ${d.met ? 'met' : d.missed ? 'missed' : ''}`]);
  }
  const c = v.callback;
  rows.push(['Callback', c.state === 'completed' ? `speed ${c.speed} · attitude ${c.attitude} · outcome ${c.outcome}` : `${c.state}${c.due_at ? ` · due ${fmt.time(c.due_at)}` : ''}`]);
  rows.push(['Mediation', `${fmt.count(v.mediation.sessions, 'session')}, ${fmt.count(v.mediation.agreements, 'agreement')}`]);
  rows.push(['Escalations', String(v.escalations)]);
  rows.push(['Reopenings', String(v.reopenings)]);
  rows.push(['Notes', String(v.notes)]);
  return rows;
}

function renderCrumbs(cell) {
  const segs = cell.split('/');
  const parts = [];
  if (session.covers('')) parts.push(h('a', { href: '/' }, 'All cells'));
  segs.forEach((seg, i) => {
    const path = segs.slice(0, i + 1).join('/');
    if (parts.length) parts.push(h('span', { class: 'sep' }, '›'));
    parts.push(session.covers(path) ? h('a', { href: `/?cell=${path}` }, seg) : h('span', { class: 'muted' }, seg));
  });
  parts.push(h('span', { class: 'sep' }, '›'), h('span', { class: 'here' }, caseId));
  const key = cell;
  const nav = $('#crumbs');
  if (nav.dataset.cell !== key) {
    nav.dataset.cell = key;
    nav.replaceChildren(...parts);
  }
}

// What an event's data says, in a line of at most ~240 characters: its
// values each isolated (value()), so that one in a right-to-left script
// cannot reorder the others.
const DATA_LINE_CHARS = 240;
function dataLine(e) {
  const d = e.data;
  if (!d) return [];
  if (e.type === 'CaseReported') {
    return [`${d.priority} ${d.kind} via ${fmt.words(d.channel)} in `, value(d.cell), ': ', value(cut(d.summary, DATA_LINE_CHARS))];
  }
  const parts = [];
  let length = 0;
  for (const [k, v] of Object.entries(d)) {
    if (length >= DATA_LINE_CHARS) {
      parts.push(' …');
      break;
    }
    const label = `${parts.length ? ' · ' : ''}${fmt.words(k)}: `;
    const text = cut(typeof v === 'object' ? JSON.stringify(v) : String(v), DATA_LINE_CHARS - length);
    parts.push(label, value(text));
    length += label.length + text.length;
  }
  return parts;
}

// `text` cut to at most `chars` characters as a reader counts them
// (grapheme clusters: an emoji with its skin tone, a letter with its
// accents), then "…". Cut on UTF-16 code units it split surrogate pairs,
// and a lone half showed as U+FFFD.
const GRAPHEMES = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
function cut(text, chars) {
  const s = String(text ?? '');
  const keep = Math.max(chars, 1);
  if (s.length <= keep) return s; // no more clusters than code units
  let n = 0;
  for (const { index } of GRAPHEMES.segment(s)) if (n++ === keep) return `${s.slice(0, index)}…`;
  return s;
}

// The timeline's rows, one per step: the steps not drawn yet are appended;
// the replay's marks (current, after it) are set on every row only when the
// step chosen changes.
let timelineMarked = null; // the step index the rows' marks are for (null: live)
function renderTimeline() {
  setText($('#timeline-count'), String(steps.length));
  const list = $('#timeline');
  const current = replay ? replay.index : null;
  if (current !== timelineMarked) {
    for (const li of list.children) mark(li, Number(li.dataset.index), current);
    timelineMarked = current;
  }
  const rows = [];
  for (let i = list.children.length; i < steps.length; ++i) {
    const li = timelineRow(steps[i], i);
    mark(li, i, current);
    rows.push(li);
  }
  if (rows.length) list.append(...rows);
}

function mark(li, index, current) {
  li.classList.toggle('current', current !== null && index === current);
  li.classList.toggle('after-current', current !== null && index > current);
}

function timelineRow(s, i) {
  return h(
    'li',
    { onclick: () => choose(i), title: `position ${s.event.position}`, dataset: { index: String(i), key: String(s.event.position) } },
    h('span', { class: 'v' }, `#${s.event.version}`),
    h('span', { class: 'when' }, fmt.timeElement(s.event.recorded_at), h('br'), h('span', { class: 'muted' }, s.event.actor)),
    h('span', { class: 'what' }, h('span', { class: 'type' }, s.event.type), h('br'), h('span', { class: 'data' }, dataLine(s.event))),
    h(
      'span',
      { class: 'after' },
      h('span', { class: `state ${s.view.state}` }, fmt.stateName(s.view.state)),
      ` tier ${s.view.tier}`,
      s.view.assignee ? ' · ' : '',
      s.view.assignee ? value(s.view.assignee) : '',
    ),
  );
}

window.casegrid = { push, session, steps };
