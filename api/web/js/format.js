// How values of the API read on the screens.

const STATE_NAMES = {
  reported: 'Reported',
  assigned: 'Assigned',
  in_progress: 'In progress',
  resolved: 'Resolved',
  closed: 'Closed',
};
export const OPEN_STATES = ['reported', 'assigned', 'in_progress'];
export const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

export function stateName(s) {
  return STATE_NAMES[s] ?? s;
}

export function isOpen(view) {
  return OPEN_STATES.includes(view.state);
}

// The browser's formats, made once: toLocaleTimeString makes one a call,
// which cost a case's timeline of 9,000 events over a second.
const HMS = new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const MONTH_DAY = new Intl.DateTimeFormat([], { month: 'short', day: 'numeric' });

// "14:03:07" today, "Nov 22 14:03" otherwise; '—' for null.
export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const now = new Date();
  const hms = HMS.format(d);
  if (d.toDateString() === now.toDateString()) return hms;
  return `${MONTH_DAY.format(d)} ${hms.slice(0, 5)}`;
}

// A <time> showing time(iso), shown again at each local midnight while it is
// on the page: a row kept from yesterday must not pass for today's (review
// 109: after midnight, yesterday's "12:40:32" stood below today's dated rows).
export function timeElement(iso) {
  const el = document.createElement('time');
  if (iso) el.dateTime = iso;
  el.textContent = time(iso);
  redateAtMidnight();
  return el;
}

let midnightTimer = null;
function redateAtMidnight() {
  if (midnightTimer !== null) return;
  const now = new Date();
  const next = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 0, 0, 1);
  midnightTimer = setTimeout(() => {
    midnightTimer = null;
    for (const el of document.querySelectorAll('time[datetime]')) {
      const text = time(el.dateTime);
      if (el.textContent !== text) el.textContent = text;
    }
    redateAtMidnight();
  }, next - now);
}

// "in 12 min", "3 min ago", "in 2 h".
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const min = Math.round((new Date(iso).getTime() - now) / 60000);
  const abs = Math.abs(min);
  const span = abs < 90 ? `${abs} min` : abs < 48 * 60 ? `${Math.round(abs / 60)} h` : `${Math.round(abs / 1440)} d`;
  return min >= 0 ? `in ${span}` : `${span} ago`;
}

export function percent(share) {
  return share === null || share === undefined ? '—' : `${Math.round(share * 1000) / 10}%`;
}

export function minutes(m) {
  if (m === null || m === undefined) return '—';
  return m < 120 ? `${m} min` : `${Math.round(m / 6) / 10} h`;
}

// The zone of a UTC offset in hours: "UTC", "UTC+8", "UTC−5" (a minus sign).
export function utcName(offsetHours) {
  const n = Number(offsetHours) || 0;
  return n === 0 ? 'UTC' : `UTC${n > 0 ? '+' : '\u2212'}${Math.abs(n)}`;
}

export function cellName(path) {
  if (!path) return 'All cells';
  return path.slice(path.lastIndexOf('/') + 1);
}

export function words(s) {
  return String(s ?? '').replaceAll('_', ' ');
}

// "1 session", "2 sessions", "0 sessions".
export function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
