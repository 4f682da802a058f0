// The officer's screen (/officer), made for a phone: their open alerts,
// newest first, live from the `alerts` channel, with a sound and a vibration
// where the browser allows (after one tap to turn them on), acknowledged with
// one tap; the open cases of their cells, live from `cell/{path}`; and a
// case sheet with the steps its lifecycle allows next.
//
// When the connection drops it says so, reconnects by itself and resumes
// every channel from the last position it showed (push.js), so nothing is
// missed and nothing shows twice.
import { signIn, userChip } from './session.js';
import { Push, statusPill, refusalBanner } from './push.js';
import { CaseBoard } from './case_board.js';
import { ActionPanel, onTheWayAfter } from './lifecycle.js';
import { h, $, setText, setParts, renderList } from './dom.js';
import * as fmt from './format.js';

const session = await signIn();
$('#user').append(userChip(session));
const push = new Push(session);
statusPill(push, $('#status'));
push.onStatus((status, why) => {
  $('#offline').hidden = status !== 'offline' && status !== 'refused';
  setText(
    $('#offline'),
    status === 'refused'
      ? `Not connected — ${why}. Retrying; alerts and cases resume from where they stopped.`
      : 'Offline — alerts and cases resume from where they stopped once the connection is back.',
  );
});
refusalBanner(push, $('#refused'));
// The server is on another log (a fresh store, push.js): its alerts and the
// case on the sheet are dropped with it; each board drops its own cases.
push.onFreshStore(() => {
  alerts.clear();
  acknowledged.clear();
  moreOpen = false;
  closeSheet();
  renderAlerts();
});

// ---- sound and vibration
//
// Both wait for the officer's tap: browsers allow sound only after one, and a
// phone that buzzes before it was asked to is a surprise.

let alertsOn = false;
let audio = null;
$('#sound').addEventListener('click', () => {
  alertsOn = true;
  audio = new AudioContext();
  audio.resume();
  beep();
  $('#sound').hidden = true;
});

function beep() {
  if (!audio || audio.state !== 'running') return;
  const t = audio.currentTime;
  for (const at of [0, 0.22]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, t + at);
    gain.gain.exponentialRampToValueAtTime(0.3, t + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(t + at);
    osc.stop(t + at + 0.18);
  }
}

function notify() {
  if (!alertsOn) return;
  beep();
  try {
    navigator.vibrate?.([200, 100, 200]);
  } catch {
    /* not allowed here */
  }
}

// The case sheet (below): the case tapped, live from case/{id}.
// onTheWay: whether this officer is on the way, from the case's events.
// opener: what had the focus when it opened, given it back when it closes.
// caseId: the case it is open on; only its views are shown.
const sheet = { view: null, caseId: null, stop: null, onTheWay: false, opener: null, actions: new ActionPanel(session) };
$('#sheet-actions').append(sheet.actions.el);
$('#sheet-close').addEventListener('click', dismissSheet);
$('#sheet').addEventListener('keydown', (e) => e.key === 'Escape' && dismissSheet());

// ---- alerts

const alerts = new Map(); // id -> {alert, fresh}
// The channel's snapshot holds the newest 200 open alerts, a GET the newest
// 1000 (docs/api.md); past those, more are open than the page holds, and its
// count says so rather than pass for the whole.
const SNAPSHOT_ALERTS = 200;
const NO_ALERTS = $('#alerts-empty').textContent;
const NO_CASES = $('#cases-empty').textContent;
let moreOpen = false;
// Ids of alerts this page heard were acknowledged (on the channel, or by its
// own tap): a GET answer on its way meanwhile does not bring one back
// (review 109: it did, until a reload).
const acknowledged = new Set();

push.subscribe('alerts', (m) => {
  if (m.type === 'error') return setText($('#alerts-empty'), `${m.error.code}: ${m.error.message}`);
  if (m.type === 'subscribed') {
    setText($('#alerts-empty'), NO_ALERTS); // a refusal asked again and taken (push.js)
    if (m.snapshot) {
      const open = m.snapshot.alerts ?? [];
      for (const a of open) alerts.set(a.id, { alert: a, fresh: false });
      if (open.length >= SNAPSHOT_ALERTS) fetchOlder();
    } else {
      reconcile(m.position); // a resume: drop what was acknowledged meanwhile
    }
    return renderAlerts();
  }
  if (m.type !== 'alert') return;
  if (m.alert.acknowledged) {
    acknowledged.add(m.alert.id);
    alerts.delete(m.alert.id);
  } else if (!alerts.has(m.alert.id)) {
    alerts.set(m.alert.id, { alert: m.alert, fresh: true });
    notify();
  }
  renderAlerts();
});

// The resume sends the alerts raised since `after`; an older one that was
// acknowledged while we were away (on another device) is not open any more.
async function reconcile(after) {
  try {
    const { alerts: open, next } = await session.api('/api/v1/alerts');
    if (next) return; // one page says nothing of the rest
    const ids = new Set(open.map((a) => a.id));
    for (const [id, { alert }] of alerts) if (alert.position <= after && !ids.has(id)) alerts.delete(id);
    renderAlerts();
  } catch {
    /* next time */
  }
}

// The snapshot was full: the newest page of open alerts holds older ones.
async function fetchOlder() {
  try {
    const { alerts: open, next } = await session.api('/api/v1/alerts');
    for (const a of open) if (!alerts.has(a.id) && !acknowledged.has(a.id)) alerts.set(a.id, { alert: a, fresh: false });
    moreOpen = Boolean(next);
    renderAlerts();
  } catch {
    moreOpen = true; // the snapshot was full, and nothing says it was all
    renderAlerts();
  }
}

async function acknowledge(id, button, li) {
  // The keyboard goes on to the next alert's button (it fell to the page's
  // start when this one went: black-box probe 91), taken now: the channel's
  // word of the acknowledgment may take the row off before the answer comes.
  const hadFocus = document.activeElement === button;
  const next = (li.nextElementSibling ?? li.previousElementSibling)?.dataset.alertId;
  const gone = () => {
    acknowledged.add(id);
    alerts.delete(id);
    renderAlerts();
    if (hadFocus && next) $('#alerts').querySelector(`li[data-alert-id="${CSS.escape(next)}"] button.ack`)?.focus();
  };
  button.disabled = true;
  setText(button, '…');
  try {
    await session.api(`/api/v1/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST' });
    gone();
  } catch (e) {
    if (e.status === 404) return gone(); // acknowledged already
    button.disabled = false;
    setText(button, 'Acknowledge');
    li.querySelector('.meta').textContent = `Refused — ${e.plain ?? e.message}`;
  }
}

function renderAlerts() {
  const items = [...alerts.values()].sort((a, b) => b.alert.position - a.alert.position);
  renderList(
    $('#alerts'),
    items,
    (x) => x.alert.id,
    ({ alert: a, fresh }) => {
      const li = h('li', { class: fresh ? 'fresh' : '', dataset: { alertId: a.id, caseId: a.case_id } });
      const button = h('button', { type: 'button', class: 'ack', onclick: () => acknowledge(a.id, button, li) }, 'Acknowledge');
      li.append(
        h('span', { class: 'msg' }, h('span', { class: 'tag' }, fmt.words(a.kind)), ' ', a.message),
        h(
          'span',
          { class: 'meta' },
          fmt.timeElement(a.at),
          ' · ',
          h('a', { href: `/case/${a.case_id}`, onclick: (e) => (e.preventDefault(), openSheet(a.case_id)) }, a.case_id),
        ),
        button,
      );
      return li;
    },
    () => {},
  );
  setText($('#alerts-count'), items.length ? `${items.length}${moreOpen ? '+' : ''}` : '');
  $('#alerts-count').title = moreOpen ? `the newest ${items.length} of more open alerts` : '';
  $('#alerts-empty').hidden = items.length > 0;
}

// ---- the cases of my cells not closed: the open ones, then the resolved
// ones, which still owe a callback or a close (black-box probe 91: a
// resolved case left the list, and once its alert was acknowledged the
// officer could not reach it)

const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
// The token's cells, less those inside another of them.
const myCells = session.cells.filter((c) => !session.cells.some((o) => o !== c && (o === '' || c.startsWith(`${o}/`))));
setText($('#my-cells'), myCells.map((c) => c || 'all cells').join(', '));
// A board's refusal is said in place of "No case", until a subscribe is taken (e null).
const boards = myCells.map(
  (cell) => new CaseBoard(session, push, cell, () => renderCases(), (e) => setText($('#cases-empty'), e ? `${e.code}: ${e.message}` : NO_CASES)),
);
// A token of no cells sees no case and hears of none: said, not left to "No case".
if (!myCells.length) setText($('#cases-empty'), 'Your token covers no cells: no case is shown, and no alert comes. A token names its cells.');

function renderCases() {
  const shown = [];
  for (const b of boards) for (const v of b.cases.values()) if (v.state !== 'closed') shown.push(v);
  shown.sort(
    (a, b) =>
      (a.state === 'resolved') - (b.state === 'resolved') ||
      PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
      b.reported_at.localeCompare(a.reported_at),
  );
  renderList(
    $('#cases'),
    shown,
    (v) => v.case_id,
    (v) =>
      h(
        'li',
        { dataset: { caseId: v.case_id } },
        h(
          'a',
          { href: `/case/${v.case_id}`, class: 'case-link', onclick: openSheetOnClick(v.case_id) },
          h('span', { class: 'row1' }, h('span', { class: 'tag' }), h('strong', { class: 'id' }, v.case_id), h('span', { class: 'state' })),
          h('span', { class: 'summary' }),
          h('span', { class: 'muted meta' }),
        ),
      ),
    (li, v) => {
      const tag = li.querySelector('.tag');
      tag.className = `tag ${v.priority}`;
      setText(tag, v.priority);
      const state = li.querySelector('.state');
      state.className = `state ${v.state}`;
      setText(state, fmt.stateName(v.state));
      setText(li.querySelector('.summary'), v.summary);
      li.querySelector('.summary').title = v.summary; // cut to three lines (screens.css)
      setText(
        li.querySelector('.meta'),
        `${fmt.cellName(v.cell)} · tier ${v.tier} · ${v.assignee ?? 'unassigned'} · ${fmt.time(v.reported_at)}`,
      );
    },
  );
  setText($('#cases-count'), shown.length ? String(shown.length) : '');
  $('#cases-empty').hidden = shown.length > 0;
  if (sheet.view) {
    // Keep the sheet in step when the list hears first.
    const v = boards.map((b) => b.cases.get(sheet.view.case_id)).find(Boolean);
    if (v && v.version > sheet.view.version) showSheet(v);
  }
}

// ---- the case sheet


// A case's link opens its sheet on a tap, a click or Enter; a click meant
// for a new tab or window (with a modifier key) opens the case page.
function openSheetOnClick(caseId) {
  return (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    openSheet(caseId);
  };
}

// The sheet follows the case's events from its first (after: 0), each with
// the view after it: the view alone does not say who is on the way, which
// decides between "On my way" and "Arrived".
function openSheet(caseId) {
  const opener = document.activeElement;
  closeSheet();
  sheet.opener = opener;
  $('#sheet').hidden = false;
  $('#sheet-title').focus(); // the keyboard goes on in the sheet
  $('#sheet-error').hidden = true;
  setText($('#sheet-title'), caseId);
  $('#sheet-link').href = `/case/${caseId}`;
  sheet.caseId = caseId;
  sheet.stop = push.subscribe(
    `case/${caseId}`,
    (m) => {
      if (m.type === 'error') {
        $('#sheet-error').hidden = false;
        return setText($('#sheet-error'), `${m.error.code}: ${m.error.message}`);
      }
      if (m.type === 'subscribed') $('#sheet-error').hidden = true; // a refusal asked again and taken
      if (m.type !== 'event') return;
      sheet.onTheWay = onTheWayAfter(sheet.onTheWay, m.event, session.sub);
      const view = m.view;
      if (view && (!sheet.view || view.version >= sheet.view.version)) showSheet(view); // showSheet takes its own case only
    },
    { after: 0 },
  );
}

function showSheet(view) {
  if (view.case_id !== sheet.caseId) return;
  sheet.view = view;
  const state = $('#sheet-state');
  state.className = `state ${view.state}`;
  setText(state, fmt.stateName(view.state));
  setText($('#sheet-summary'), view.summary);
  $('#sheet-summary').title = view.summary; // cut to six lines (screens.css); the case page holds it whole
  setParts($('#sheet-meta'), [
    `${view.priority} ${view.kind} · `,
    [view.cell],
    ` · tier ${view.tier} · `,
    [view.assignee ?? 'unassigned'],
    ' · reporter ',
    [view.reporter?.name ?? ''],
    ' ',
    [view.reporter?.phone ?? ''],
  ]);
  sheet.actions.render(view, { onTheWay: sheet.onTheWay });
}

// Nothing of the last case stays on the sheet: until the next case's first
// view comes, it shows no state, summary or step (review 109: the last
// case's steps stayed, and a tap on one acted on that case).
function closeSheet() {
  sheet.stop?.();
  sheet.stop = null;
  sheet.view = null;
  sheet.caseId = null;
  sheet.onTheWay = false;
  sheet.opener = null;
  const state = $('#sheet-state');
  state.className = 'state';
  setText(state, '');
  setText($('#sheet-summary'), '');
  $('#sheet-summary').title = '';
  setParts($('#sheet-meta'), []);
  sheet.actions.clear();
  $('#sheet').hidden = true;
}

// Closed by the officer (Close, Escape): the focus goes back where it was.
function dismissSheet() {
  const opener = sheet.opener;
  closeSheet();
  if (opener?.isConnected) opener.focus();
}

window.casegrid = { push, session, alerts, boards };
