// The lifecycle steps a case allows next (docs/cases.md, API.md "Actions"),
// as buttons with the few fields each needs. The page offers what the
// case's state allows; who may take a step is the server's to decide, and
// when it refuses, its message is shown as it is.
import { h, setText } from './dom.js';

const OUTCOMES = ['agreement', 'partial', 'no_agreement', 'adjourned'];
const RESOLUTIONS = [
  'handled_on_site',
  'mediated_agreement',
  'referred_to_court',
  'referred_to_department',
  'no_action_needed',
  'withdrawn',
  'rectified',
];
const ANSWERS = ['satisfied', 'neutral', 'dissatisfied'];

const text = (name, label, value = '') => ({ name, label, kind: 'text', value });
const choice = (name, label, options) => ({ name, label, kind: 'select', options });
const check = (name, label) => ({ name, label, kind: 'checkbox' });

// Whether `me` is on the way to a case after `event`, given whether they were
// before it: the engine's rule (docs/cases.md) — dispatched, and not arrived
// since. A case view does not say who is on the way, so the pages follow the
// case's events. For those who do not handle the case the server leaves out
// the events' data; then the one who acted stands for the officer, which is
// right for every dispatch made from these screens (an officer sends their
// own name).
export function onTheWayAfter(was, event, me) {
  if (event.type !== 'OfficerDispatched' && event.type !== 'OfficerArrived') return was;
  const officer = event.data ? event.data.officer : event.actor;
  if (officer !== me) return was;
  return event.type === 'OfficerDispatched';
}

// [{action, label, fields, body(values)}] for `view` as `session` would act.
// `onTheWay`: whether session.sub is on the way (onTheWayAfter).
export function nextActions(view, session, { onTheWay = false } = {}) {
  const me = session.sub;
  const s = view.state;
  const note = { action: 'note', label: 'Note', fields: [text('text', 'Note')], body: (v) => ({ text: v.text }) };
  const callbacks = [];
  if (view.callback?.state === 'none') {
    callbacks.push({
      action: 'schedule-callback',
      label: 'Schedule callback',
      fields: [text('due_at', 'Due (UTC)', new Date(Date.now() + 86400000).toISOString())],
      body: (v) => ({ due_at: v.due_at }),
    });
  }
  if (['scheduled', 'attempted'].includes(view.callback?.state)) {
    callbacks.push(
      {
        action: 'attempt-callback',
        // An attempt: mostly no answer; a reporter reached who did not take
        // the questions is one too, and does not count toward closing.
        label: 'Call back: an attempt',
        fields: [check('reached', 'Reached, but not asked the questions'), text('note', 'Note', 'no answer')],
        body: (v) => ({ reached: v.reached, note: v.note }),
      },
      {
        action: 'complete-callback',
        label: 'Call back: done',
        fields: [
          choice('speed', 'Speed', ANSWERS),
          choice('attitude', 'Attitude', ANSWERS),
          choice('outcome', 'Outcome', ANSWERS),
          text('comment', 'Comment'),
        ],
        body: (v) => ({
          speed: v.speed,
          attitude: v.attitude,
          outcome: v.outcome,
          ...(v.comment?.trim() ? { comment: v.comment } : {}),
        }),
      },
    );
  }
  const takeIt = { action: 'assign', label: 'Assign to me', fields: [], body: () => ({ assignee: me }) };
  const dispatch = { action: 'dispatch', label: 'On my way', fields: [], body: () => ({ officer: me }) };
  const arrive = { action: 'arrive', label: 'Arrived', fields: [], body: () => ({ officer: me }) };
  // "Arrived" only once on the way (else the server's 409 "not on the way");
  // "On my way" until someone has arrived (first contact is made).
  const travel = onTheWay ? [arrive] : view.arrived_at ? [] : [dispatch];
  switch (s) {
    case 'reported':
      return [takeIt, note];
    case 'assigned':
      return [
        { action: 'accept', label: 'Accept', fields: [], body: () => ({}) },
        ...(view.assignee === me ? [] : [takeIt]),
        ...travel,
        note,
      ];
    case 'in_progress': {
      const escalate = {
        action: 'escalate',
        label: `Escalate to tier ${view.tier + 1}`,
        fields: [text('reason', 'Reason'), ...(view.tier === 2 ? [text('judicial', 'Judicial department')] : [])],
        body: (v) => ({ reason: v.reason, ...(view.tier === 2 ? { judicial: v.judicial } : {}) }),
      };
      return [
        ...travel,
        {
          action: 'mediate',
          label: `Mediation (tier ${view.tier})`,
          fields: [choice('outcome', 'Outcome', OUTCOMES), text('participants', 'Participants, comma separated'), text('notes', 'Notes')],
          body: (v) => ({
            tier: view.tier,
            outcome: v.outcome,
            participants: v.participants.split(',').map((p) => p.trim()).filter(Boolean),
            notes: v.notes,
          }),
        },
        ...(view.tier < 3 ? [escalate] : []),
        {
          action: 'resolve',
          label: 'Resolve',
          fields: [choice('resolution', 'Resolution', RESOLUTIONS), text('summary', 'Summary')],
          body: (v) => ({ resolution: v.resolution, summary: v.summary }),
        },
        note,
      ];
    }
    case 'resolved': {
      // Close waits for the callback: done, or three attempts that did not reach
      // the reporter.
      const cb = view.callback ?? {};
      const closable = cb.state === 'completed' || cb.state === 'none' || (cb.unreached ?? 0) >= 3;
      return [
        ...callbacks,
        ...(closable ? [{ action: 'close', label: 'Close', fields: [], body: () => ({}) }] : []),
        { action: 'reopen', label: 'Reopen', fields: [text('reason', 'Reason')], body: (v) => ({ reason: v.reason }) },
        note,
      ];
    }
    case 'closed':
      // A closed case takes only a note or a reopening (API.md).
      return [
        { action: 'reopen', label: 'Reopen', fields: [text('reason', 'Reason')], body: (v) => ({ reason: v.reason }) },
        note,
      ];
    default:
      return [note];
  }
}

// A panel of the next steps of a case: one tap for a step without fields, a
// small form for the others. render(view) brings it up to date.
export class ActionPanel {
  constructor(session) {
    this.session = session;
    this.view = null;
    this.facts = {};
    this.open = null; // the action whose form is open
    this.buttons = h('div', { class: 'actions' });
    this.form = h('form', { class: 'action-form', hidden: true });
    this.result = h('p', { class: 'action-result', role: 'status', 'aria-live': 'polite' });
    this.el = h('section', { class: 'action-panel' }, h('h3', {}, 'Next steps'), this.buttons, this.form, this.result);
  }

  // No case: no step to take (a sheet between two cases).
  clear() {
    this.view = null;
    this.facts = {};
    this.closeForm();
    this.show('', '');
    this.buttons.replaceChildren();
  }

  // `facts`: what the view does not say ({onTheWay}, nextActions).
  render(view, facts = {}) {
    const sameCase = this.view?.case_id === view.case_id;
    const changed =
      !this.view || this.view.version !== view.version || !sameCase || this.facts.onTheWay !== facts.onTheWay;
    this.view = view;
    this.facts = facts;
    if (!sameCase) {
      this.closeForm();
      this.show('', '');
    }
    if (!changed) return;
    const actions = nextActions(view, this.session, facts);
    this.buttons.replaceChildren(
      ...actions.map((a) =>
        h(
          'button',
          { type: 'button', class: 'action', dataset: { action: a.action }, onclick: () => this.choose(a) },
          a.label,
        ),
      ),
    );
    if (this.open && !actions.some((a) => a.action === this.open.action)) this.closeForm();
  }

  choose(a) {
    if (!a.fields.length) return this.perform(a, {});
    this.open = a;
    this.form.replaceChildren(
      h('h4', {}, a.label),
      ...a.fields.map((f) => {
        let input;
        if (f.kind === 'select') input = h('select', { name: f.name }, ...f.options.map((o) => h('option', { value: o }, o.replaceAll('_', ' '))));
        else if (f.kind === 'checkbox') input = h('input', { type: 'checkbox', name: f.name });
        else input = h('input', { type: 'text', name: f.name, value: f.value ?? '' });
        return h('label', { class: `field field-${f.kind}` }, h('span', {}, f.label), input);
      }),
      h(
        'div',
        { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'primary', dataset: { confirm: a.action } }, 'Confirm'),
        h('button', { type: 'button', class: 'link', onclick: () => this.closeForm() }, 'Cancel'),
      ),
    );
    this.form.hidden = false;
    this.form.onsubmit = (e) => {
      e.preventDefault();
      const values = {};
      for (const f of a.fields) {
        const input = this.form.elements[f.name];
        values[f.name] = f.kind === 'checkbox' ? input.checked : input.value.trim();
      }
      this.perform(a, values);
    };
    this.form.querySelector('input, select')?.focus();
  }

  closeForm() {
    this.open = null;
    this.form.hidden = true;
    this.form.replaceChildren();
  }

  show(kind, message) {
    this.result.className = `action-result ${kind}`;
    setText(this.result, message);
  }

  async perform(a, values) {
    const view = this.view;
    if (!view) return; // cleared while its form was open
    const body = { ...a.body(values), expected_version: view.version };
    this.show('pending', `${a.label}…`);
    for (const b of this.buttons.children) b.disabled = true;
    try {
      const r = await this.session.api(`/api/v1/cases/${encodeURIComponent(view.case_id)}/${a.action}`, {
        method: 'POST',
        body,
      });
      if (this.view?.case_id !== view.case_id) return; // the panel is on another case now (review 111)
      this.closeForm();
      this.show('ok', `Done: ${a.label.toLowerCase()} (version ${r.version}).`);
    } catch (e) {
      if (this.view?.case_id !== view.case_id) return;
      // The server's own words, as they are.
      this.show('refused', `Refused — ${e.plain ?? e.message}`);
    } finally {
      for (const b of this.buttons.children) b.disabled = false;
    }
  }
}
