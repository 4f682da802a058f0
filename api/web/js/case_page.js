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
import { h, $, setText, renderList } from './dom.js';
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
let onTheWay = false; // whether the signed-in officer is on the way, after the newest step
let replay = null; // {index, view, shown: the index whose view is on the screen}
const slider = $('#replay-slider');
const actions = session.handlesCases ? new ActionPanel(session) : null;
if (actions) $('#actions').append(actions.el);

push.subscribe(
  `case/${caseId}`,
  (m) => {
    if (m.type === 'error') return showError(`${m.error.code}: ${m.error.message}`);
    if (m.type !== 'event') return;
    if (steps.some((s) => s.event.position === m.position)) return;
    steps.push({ event: m.event, view: m.view });
    onTheWay = onTheWayAfter(onTheWay, m.event, session.sub);
    const live = !replay;
    slider.max = String(steps.length - 1);
    if (live) {
      slider.value = slider.max;
      showView(m.view, null);
    }
    renderTimeline();
  },
  { after: 0 },
);

slider.addEventListener('input', () => choose(Number(slider.value)));
$('#replay-live').addEventListener('click', () => choose(steps.length - 1));

function showError(text) {
  const el = $('#case-error');
  el.hidden = false;
  setText(el, text);
}

function choose(index) {
  slider.value = String(index);
  if (index >= steps.length - 1) {
    replay = null;
    document.body.classList.remove('replaying');
    $('#replay-live').hidden = true;
    setText($('#replay-label'), 'Live');
    delete $('#replay-label').dataset.position;
    if (steps.length) showView(steps[steps.length - 1].view, null);
    renderTimeline();
    return;
  }
  replay = { index, view: null, shown: null };
  document.body.classList.add('replaying');
  $('#replay-live').hidden = false;
  setText($('#replay-label'), `Loading step ${index + 1}…`);
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
      const label = $('#replay-label');
      label.dataset.position = String(step.event.position);
      setText(label, `Step ${index + 1} of ${steps.length} · position ${step.event.position} · ${step.event.type} · ${fmt.time(step.event.recorded_at)}`);
    })
    .catch((e) => {
      if (!current()) return;
      replay.shown = index;
      setText($('#replay-label'), `Refused — ${e.plain ?? e.message}`);
    })
    .finally(() => {
      replayLoading = false;
      loadReplay();
    });
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
      setText(dd, v);
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
    ['Tier', String(v.tier)],
    ['Assignee', v.assignee ?? '—'],
    ['Reporter', `${v.reporter?.name ?? ''} ${v.reporter?.phone ?? ''}`.trim() || '—'],
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
  rows.push(['Mediation', `${v.mediation.sessions} sessions, ${v.mediation.agreements} agreements`]);
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

// What an event's data says, in a line.
function dataLine(e) {
  const d = e.data;
  if (!d) return '';
  if (e.type === 'CaseReported') return `${d.priority} ${d.kind} via ${fmt.words(d.channel)} in ${d.cell}: ${d.summary}`;
  return Object.entries(d)
    .map(([k, v]) => `${fmt.words(k)}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' · ')
    .slice(0, 240);
}

function renderTimeline() {
  setText($('#timeline-count'), String(steps.length));
  const current = replay ? replay.index : steps.length - 1;
  renderList(
    $('#timeline'),
    steps.map((s, i) => ({ ...s, i })),
    (s) => s.event.position,
    (s) =>
      h(
        'li',
        { onclick: () => choose(s.i), title: `position ${s.event.position}` },
        h('span', { class: 'v' }, `#${s.event.version}`),
        h('span', {}, fmt.time(s.event.recorded_at), h('br'), h('span', { class: 'muted' }, s.event.actor)),
        h('span', {}, h('span', { class: 'type' }, s.event.type), h('br'), h('span', { class: 'data' }, dataLine(s.event))),
        h(
          'span',
          { class: 'after' },
          h('span', { class: `state ${s.view.state}` }, fmt.stateName(s.view.state)),
          ` tier ${s.view.tier}`,
          s.view.assignee ? ` · ${s.view.assignee}` : '',
        ),
      ),
    (li, s) => {
      li.classList.toggle('current', Boolean(replay) && s.i === current);
      li.classList.toggle('after-current', Boolean(replay) && s.i > current);
    },
  );
}

window.casegrid = { push, session, steps };
