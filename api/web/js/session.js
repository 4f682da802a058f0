// Sign-in and the HTTP API. The token comes pasted into the sign-in form or
// in the link (`?token=…`, taken out of the address bar at once) and is kept
// in sessionStorage: it lives as long as the tab. A tab opened without one (a
// case opened in a new tab from the officer's screen: the browser does not
// copy sessionStorage to it) asks the page's other tabs for theirs over a
// BroadcastChannel before it shows the form (review 109: on a phone signed in
// from a link there was no token to paste). It takes a token only if every
// tab that answers within the wait is signed in as the same person (on a
// shared desk, two people's tabs answer: the form is shown). "Sign out" signs
// out every tab of the origin signed in with that token, and a tab signed out
// asks no one, so that signing out holds (review 111: another tab went on
// handing the token to new tabs). Scope and masking are the server's; the
// claims are read here only to choose what to show first.
import { h } from './dom.js';

const KEY = 'casegrid.token';
// The tabs of this page's origin share a signed-in token through it.
const TABS = 'casegrid.session';
// How long a new tab waits for another to answer.
const TABS_WAIT_MS = 400;
// Asked only to learn whether the server takes a token: it is cheap (the
// log's head) and every role may read it — though only a 401 matters, so a
// role refused it (403) would do as well. An auditor's read of it is
// recorded, as all their reads are, so it is asked only when needed (push.js).
const TOKEN_CHECK = '/api/v1/audit/digest';
const HANDLING_ROLES = ['operator', 'officer', 'mediator', 'grid_worker', 'volunteer', 'supervisor'];

// How many times a read refused with 429 is asked in all (Session.api): a
// person's other tab may hold their rate for some seconds (probe 100: after
// 4 tries a replay's tiles stayed blank for good).
const READ_TRIES = 12;

// Places for reads as of a past moment, this page's at most `bound` at once
// (the server's default per subject: serve --max-as-of-reads-per-token). The
// newest waiting read goes first: a replay dragged on wants its latest
// position, not the ones it passed (review 105: those went first).
class Places {
  constructor(bound) {
    this.free = bound;
    this.waiting = [];
  }
  take() {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  give() {
    const next = this.waiting.pop();
    if (next) next();
    else this.free++;
  }
}
const pastReads = new Places(4);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  // "409 conflict: case is reported; accept needs an assigned case"
  get plain() {
    return `${this.status} ${this.code}: ${this.message}`;
  }
}

function decodeClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part + '==='.slice((part.length + 3) % 4)), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims.sub === 'string' && typeof claims.role === 'string' ? claims : null;
  } catch {
    return null;
  }
}

export class Session {
  constructor(token) {
    const claims = decodeClaims(token) ?? {};
    this.token = token;
    this.sub = claims.sub ?? '';
    this.role = claims.role ?? '';
    this.cells = Array.isArray(claims.cells) ? claims.cells : [];
    this.expiresAt = (claims.exp ?? 0) * 1000;
  }
  get handlesCases() {
    return HANDLING_ROLES.includes(this.role);
  }
  covers(path) {
    return this.cells.some((c) => c === '' || path === c || path.startsWith(`${c}/`));
  }
  // The node to show first: the root if in scope, else the first cell.
  get home() {
    return this.covers('') ? '' : (this.cells[0] ?? '');
  }

  // `wanted`: for a read that may stop being of use while it waits (a replay
  // dragged on), asked before it is sent and before each retry; once false,
  // the read is not sent and fails as `abandoned` (review 109: a replay
  // resting a moment at each of four positions made every position's reads,
  // each recorded for an auditor, after it had left them).
  async api(path, { method = 'GET', body, wanted = () => true } = {}) {
    // A read as of a past moment waits for one of this page's places: the
    // server takes a subject's few at once (serve --max-as-of-reads-per-token)
    // and refuses more with 429, which a replay's many cells would meet.
    const pastRead = method === 'GET' && /[?&]as_of=/.test(path);
    if (pastRead) await pastReads.take();
    const abandoned = () => new ApiError(0, 'abandoned', 'no longer wanted');
    let res;
    try {
      for (let tries = 1; ; tries++) {
        if (!wanted()) throw abandoned();
        res = await fetch(path, {
          method,
          headers: { Authorization: `Bearer ${this.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
        // A read refused for its rate (another tab of the same person, a
        // replay dragged fast) is asked again when the server says, a few
        // times; a write is never sent twice unasked.
        if (res.status !== 429 || method !== 'GET' || tries >= READ_TRIES) break;
        const wait = Number(res.headers.get('Retry-After')) || 1;
        await res.text().catch(() => '');
        // Its place is not held while it waits: newer reads go meanwhile.
        if (pastRead) pastReads.give();
        await new Promise((done) => setTimeout(done, Math.min(wait, 5) * 1000));
        if (pastRead) await pastReads.take();
      }
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(0, 'offline', `the server cannot be reached (${e.message})`);
    } finally {
      if (pastRead) pastReads.give();
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      const err = new ApiError(res.status, json?.error?.code ?? 'error', json?.error?.message ?? (text || res.statusText));
      if (res.status === 401) signOut(err.message);
      throw err;
    }
    return json;
  }
}

export function signOut(why = '') {
  const token = sessionStorage.getItem(KEY);
  // Signed out by the person (not for an expired or refused token): every
  // tab with this token is signed out with it.
  if (!why && token && typeof BroadcastChannel !== 'undefined') {
    const tabs = new BroadcastChannel(TABS);
    tabs.postMessage({ signedOut: token });
    tabs.close();
  }
  sessionStorage.removeItem(KEY);
  // This tab does not take the token back from another (askOtherTabs).
  sessionStorage.setItem(`${KEY}.out`, '1');
  if (why) sessionStorage.setItem(`${KEY}.why`, why);
  location.reload();
}

// The token another tab of this origin is signed in with; null when none
// answers in time (or the browser has no BroadcastChannel).
async function askOtherTabs() {
  if (typeof BroadcastChannel === 'undefined') return null;
  const tabs = new BroadcastChannel(TABS);
  try {
    const answers = [];
    tabs.onmessage = (e) => typeof e.data?.token === 'string' && answers.push(e.data.token);
    tabs.postMessage({ ask: true });
    await new Promise((done) => setTimeout(done, TABS_WAIT_MS));
    // Every answer of one person, or none taken; of theirs, the latest to expire.
    const sessions = answers.map((t) => new Session(t)).filter((s) => s.sub);
    if (!sessions.length || sessions.some((s) => s.sub !== sessions[0].sub)) return null;
    const expiry = (s) => s.expiresAt || Number.MAX_SAFE_INTEGER; // 0: none
    sessions.sort((a, b) => expiry(b) - expiry(a));
    return sessions[0].token;
  } finally {
    tabs.close();
  }
}

// Answers the tabs that ask for the token this one is signed in with.
function answerOtherTabs() {
  if (typeof BroadcastChannel === 'undefined') return;
  const tabs = new BroadcastChannel(TABS);
  tabs.onmessage = (e) => {
    const token = sessionStorage.getItem(KEY);
    if (!token) return;
    if (e.data?.ask === true) tabs.postMessage({ token });
    else if (e.data?.signedOut === token) signOut('signed out in another tab');
  };
}

// Why session `s` cannot be signed in with: '' when it can.
function unusable(s) {
  if (!s.sub) return 'that is not a casegrid token';
  return s.expiresAt === 0 || s.expiresAt > Date.now() ? '' : 'your token has expired';
}

// Resolves with the Session once there is a token that the server accepts,
// showing the sign-in form until then.
export async function signIn() {
  const url = new URL(location.href);
  const linked = url.searchParams.get('token');
  if (linked) {
    sessionStorage.setItem(KEY, linked.trim());
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }
  const stored = sessionStorage.getItem(KEY);
  if (stored) {
    const s = new Session(stored);
    const why = unusable(s);
    if (!why) return signedIn(s);
    sessionStorage.setItem(`${KEY}.why`, why);
    sessionStorage.removeItem(KEY);
  } else if (!sessionStorage.getItem(`${KEY}.out`)) {
    // Another tab's token that cannot be used is no reason to give here.
    const shared = await askOtherTabs();
    const s = shared && new Session(shared);
    if (s && !unusable(s)) {
      sessionStorage.setItem(KEY, shared);
      return signedIn(s);
    }
  }
  return new Promise((resolve) => showForm((s) => resolve(signedIn(s))));
}

function signedIn(session) {
  sessionStorage.removeItem(`${KEY}.out`);
  answerOtherTabs();
  return session;
}

function showForm(resolve) {
  const why = sessionStorage.getItem(`${KEY}.why`) ?? '';
  sessionStorage.removeItem(`${KEY}.why`);
  const error = h('p', { class: 'signin-error', role: 'alert' }, why);
  const input = h('textarea', {
    name: 'token',
    rows: 4,
    placeholder: 'eyJhbGciOiJIUzI1NiIs…',
    autocomplete: 'off',
    spellcheck: false,
    'aria-label': 'token',
  });
  const form = h(
    'form',
    { class: 'signin-form' },
    h('h1', {}, 'casegrid'),
    h('p', {}, 'Sign in with your token — from your station, or from ', h('code', {}, 'casegrid token'), '.'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  const overlay = h('div', { class: 'signin', id: 'signin' }, form);
  document.body.append(overlay);
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    const s = new Session(token);
    if (!s.sub) {
      error.textContent = 'That is not a casegrid token.';
      return;
    }
    // Ask the server: a token it refuses is shown here, not stored.
    const answer = await checkToken(token);
    if (answer.status === 0 || answer.status === 401) {
      error.textContent = answer.message;
      return;
    }
    sessionStorage.setItem(KEY, token);
    overlay.remove();
    resolve(s);
  });
}

// Whether the server takes `token`: {status, message} of one cheap request
// with it — 401 with the server's reason when it refuses it, status 0 when
// the server cannot be reached. Anything else means the token was accepted
// (a 403 or 429 is about the request, not the token).
export async function checkToken(token) {
  let res;
  try {
    res = await fetch(TOKEN_CHECK, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch {
    return { status: 0, message: 'The server cannot be reached.' };
  }
  const body = await res.json().catch(() => null);
  return { status: res.status, message: body?.error?.message ?? res.statusText };
}

// The "who am I" corner of a page header: subject, role, sign out.
export function userChip(session) {
  return h(
    'span',
    { class: 'user' },
    h('span', { class: 'user-sub' }, session.sub),
    h('span', { class: 'user-role' }, session.role.replaceAll('_', ' ')),
    h('button', { class: 'link', type: 'button', onclick: () => signOut() }, 'Sign out'),
  );
}
