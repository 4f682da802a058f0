// What a change of a case view means to a person watching, and which cases
// need a decision now — both read from case views alone (the cell channel
// carries views, not events).
import { isOpen, words, relative } from './format.js';

const SOON_MS = 15 * 60 * 1000; // a deadline this close "is about to pass"

// "Assigned to officer-7", "Escalated to tier 3; Mediation: no agreement", …
export function describeChange(before, v) {
  if (!before) {
    // First seen: new only at version 1; otherwise a case not held before
    // (past a truncated snapshot), whose change is not known.
    if (v.version === 1) return `Reported: ${v.priority} ${v.kind} — ${v.summary}`;
    return `Now ${words(v.state)} — ${v.summary}`;
  }
  const said = [];
  if (before.state !== v.state) {
    if (v.state === 'assigned') said.push(`Assigned to ${v.assignee}`);
    else if (v.state === 'in_progress' && before.state === 'assigned') said.push(`Accepted by ${v.assignee}`);
    else if (v.state === 'in_progress') said.push('Reopened');
    else if (v.state === 'resolved') said.push(`Resolved: ${words(v.resolution)}`);
    else if (v.state === 'closed') said.push('Closed');
    else said.push(`Now ${words(v.state)}`);
  } else if (before.assignee !== v.assignee) {
    said.push(`Reassigned to ${v.assignee}`);
  }
  if (v.tier > before.tier) said.push(`Escalated to tier ${v.tier}`);
  if (v.mediation.sessions > before.mediation.sessions) {
    said.push(`Mediation: ${v.mediation.agreements > before.mediation.agreements ? 'agreement' : 'no agreement'}`);
  }
  // Who was sent (the view's `dispatched`: on the way, not arrived yet); a
  // dispatch said "Updated (version N)" (black-box probe 91).
  const sent = (v.dispatched ?? []).filter((o) => !(before.dispatched ?? []).includes(o));
  if (sent.length) said.push(`On the way: ${sent.join(', ')}`);
  if (!before.arrived_at && v.arrived_at) said.push('Officer arrived');
  if (before.priority !== v.priority) said.push(`Priority now ${v.priority}`);
  if (before.callback.state !== v.callback.state) {
    const c = v.callback;
    if (c.state === 'completed') said.push(`Callback: speed ${c.speed}, attitude ${c.attitude}, outcome ${c.outcome}`);
    else if (c.state === 'attempted') said.push('Callback attempted, not reached');
    else if (c.state === 'scheduled') said.push('Callback scheduled');
  }
  const met = [];
  for (const d of v.deadlines) {
    const old = before.deadlines.find((o) => o.deadline === d.deadline);
    if (d.missed && !old?.missed) said.push(`Deadline ${words(d.deadline)} missed`);
    else if (d.warned && !old?.warned && !d.met) said.push(`Deadline ${words(d.deadline)} approaching`);
    else if (d.met && old && !old.met) met.push(`Deadline ${words(d.deadline)} met`);
  }
  if (v.notes > before.notes) said.push('Note added');
  // Met by a step said above (accepted, arrived, resolved), or on its own:
  // a mediation's meeting of the first contact comes as a view of its own.
  if (!said.length) said.push(...met);
  return said.length ? said.join('; ') : `Updated (version ${v.version})`;
}

const dissatisfied = (c) => [c.speed, c.attitude, c.outcome].includes('dissatisfied');

// [{key, kind, why, view, rank, at}], most pressing first: deadlines missed or
// about to pass, tier-3 escalations, dissatisfied callbacks not yet acted on.
export function decisionsFrom(views, now) {
  const out = [];
  for (const v of views) {
    if (v.state === 'closed') continue;
    const open = isOpen(v);
    for (const d of v.deadlines) {
      if (d.met || (!open && d.deadline !== 'callback')) continue;
      const due = Date.parse(d.due_at);
      const key = `${v.case_id}:deadline:${d.deadline}`;
      if (d.missed) out.push({ key, kind: 'missed', why: `Deadline ${words(d.deadline)} missed`, view: v, rank: 0, at: due });
      else if (d.warned || due - now < SOON_MS) {
        out.push({ key, kind: 'deadline', why: `Deadline ${words(d.deadline)} due ${relative(d.due_at, now)}`, view: v, rank: 1, at: due });
      }
    }
    if (open && v.tier === 3) out.push({ key: `${v.case_id}:tier3`, kind: 'tier3', why: 'Tier-3 escalation', view: v, rank: 2, at: -v.position });
    if (v.state === 'resolved' && v.callback.state === 'completed' && dissatisfied(v.callback)) {
      out.push({ key: `${v.case_id}:dissatisfied`, kind: 'dissatisfied', why: 'Dissatisfied callback — reopen?', view: v, rank: 3, at: -v.position });
    }
  }
  return out.sort((a, b) => a.rank - b.rank || a.at - b.at);
}

// What each kind of decision is called, one and many, in the order
// decisionsFrom ranks them.
export const DECISION_KINDS = {
  missed: ['deadline missed', 'deadlines missed'],
  deadline: ['deadline due soon', 'deadlines due soon'],
  tier3: ['tier-3 escalation', 'tier-3 escalations'],
  dissatisfied: ['dissatisfied callback', 'dissatisfied callbacks'],
};

// What `n` decisions of `kind` are called: "tier-3 escalation" for 1,
// "deadlines due soon" for 27.
export function decisionsName(n, kind) {
  return DECISION_KINDS[kind][n === 1 ? 0 : 1];
}

// The decisions to list: the first `perKind` of each kind, in decisionsFrom's
// order, each kind with more followed by {key, kind, more} saying how many
// more of it there are — so that a node busy with deadlines still shows its
// tier-3 escalations, and nothing passes unseen.
export function firstOfEachKind(decisions, perKind) {
  const seen = new Map(); // kind -> how many
  const out = [];
  for (const d of decisions) {
    const n = (seen.get(d.kind) ?? 0) + 1;
    seen.set(d.kind, n);
    if (n <= perKind) out.push(d);
    else if (n === perKind + 1) out.push({ key: `more:${d.kind}`, kind: d.kind, more: 0 });
  }
  for (const d of out) if (d.more !== undefined) d.more = seen.get(d.kind) - perKind;
  return out;
}
