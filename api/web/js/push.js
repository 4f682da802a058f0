// The WebSocket push of API.md ("Push: WebSocket at /ws") for the pages.
//
// One connection per page. Each subscription remembers the last position it
// has handled; when the connection drops — the network goes, the server
// restarts, it closes a slow client with 1013 — the client reconnects by
// itself (backing off up to 5 s, at once when the browser says it is online
// again; the backoff starts over once a connection has stayed open 10 s)
// and subscribes again with `after` = that position, so the server sends
// everything missed, in order, once, and then goes live. A page's
// handler sees "subscribed" (with a snapshot only the first time), then
// "event" / "view" / "alert" messages, and "error".
//
// A connection whose path has died without a close (a dropped NAT entry, a
// VPN gone: probe 103 found every page saying "Live" over 120 s of silence)
// is found by asking the server for an answer after QUIET_MS without a
// message: an unsubscribe of a channel this page never follows, which the
// server answers `not_found` at once. No message within ANSWER_MS of asking
// counts as a dropped connection: offline, and reconnected as any other. The
// answer may come behind a message still on its way — a snapshot or a
// catch-up page of up to 2 MiB, which takes a slow phone link minutes — so
// while a subscribe is unanswered the wait is PENDING_ANSWER_MS at least, and
// each drop for no answer doubles the wait of the connections after it (up
// to MOST_ANSWER_MS), so that a slow link is not dropped and asked for the
// same snapshot without end (review 111).
//
// A server that comes back on another, shorter log (a fresh store) refuses
// an `after` beyond its head. Then nothing the page holds is of that log:
// every channel starts over on a new connection, as first subscribed (a
// snapshot, or from its `after`), and the pages are told to drop what they
// hold first (onFreshStore).
//
// A handshake the server refuses looks to the page like a network failure
// (the browser does not say why a WebSocket did not open), so one that does
// not open is followed by an HTTP request with the same token: a 401 brings
// the sign-in back with the server's reason; anything else is retried.
//
// status: 'connecting' | 'live' | 'offline' | 'refused' (the server answers
// HTTP with this token but did not open the socket: past its WebSocket
// connections per token, or its request rate); listen with onStatus(f).
// Subscriptions the server refused (e.g. past its subscriptions per
// connection): listen with onRefusals(f), so that a page never drops a
// channel silently. A refusal that passes (`rate_limited`: the person's
// request rate, shared with their reads and other tabs; `unavailable`) is
// asked again by itself, backing off from 1 s up to 30 s, until the server
// takes it (review 109: such a channel was never asked for again while the
// connection stayed up, and the page stayed on what it had, saying "Live").
import { signOut, checkToken } from './session.js';
import { h } from './dom.js';

// After the server has taken the token while the socket still did not open
// (e.g. 429: too many connections), it is not asked again for this long:
// an auditor's every read is recorded.
const TOKEN_CHECK_PAUSE_MS = 30000;
// Refusals of a subscribe that pass with time: asked again (retrySubscribe).
const PASSING = new Set(['rate_limited', 'unavailable']);
const RESUBSCRIBE_FIRST_MS = 1000;
const RESUBSCRIBE_MOST_MS = 30000;
// A connection open this long resets the reconnection backoff.
const STEADY_MS = 10000;
// Liveness: asked after this long without a message, dropped without one this
// long after asking; checked every CHECK_MS.
const QUIET_MS = 25000;
const ANSWER_MS = 10000;
const PENDING_ANSWER_MS = 120000;
const MOST_ANSWER_MS = 600000;
const CHECK_MS = 5000;
const LIVENESS_CHANNEL = 'liveness';

export class Push {
  // `session`: its token opens the connection; once it has expired, the
  // page goes back to the sign-in form instead of reconnecting.
  constructor(session) {
    this.session = session;
    this.token = session.token;
    this.subs = new Map(); // channel -> {channel, handler, last, id, after}
    this.byId = new Map(); // request id -> channel
    this.nextId = 1;
    this.ws = null;
    this.status = 'connecting';
    this.statusListeners = [];
    this.retry = 0;
    this.timer = null;
    this.connects = 0;
    this.checkTokenAfter = 0; // Date.now() past which a failed open asks about the token
    this.refusedWhy = null; // why the server did not open the socket, when it answered HTTP
    this.refusals = new Map(); // channel -> the server's error, for subscriptions it refused
    this.refusalListeners = [];
    this.freshStoreListeners = [];
    this.answerMs = ANSWER_MS; // how long a liveness question waits (checkLiveness)
    addEventListener('offline', () => this.drop('the browser is offline'));
    addEventListener('online', () => this.connectSoon(0));
    this.connect();
  }

  onStatus(f) {
    this.statusListeners.push(f);
    f(this.status, '');
  }

  // f(refusals): refusals = Map(channel -> {code, message}), called on each change.
  onRefusals(f) {
    this.refusalListeners.push(f);
    f(this.refusals);
  }

  // f(): the server is on another log than the one followed so far (a fresh
  // store); called before every channel starts over. Returns a function
  // that stops listening.
  onFreshStore(f) {
    this.freshStoreListeners.push(f);
    return () => {
      this.freshStoreListeners = this.freshStoreListeners.filter((g) => g !== f);
    };
  }

  // Subscribes `handler` to `channel`; returns a function that ends it.
  // `after`: start from that position (0: the channel's whole history)
  // instead of a snapshot.
  subscribe(channel, handler, { after = null } = {}) {
    this.unsubscribe(channel);
    // from: where it starts, kept for a fresh store; last: the last position handled.
    // retries, timer: a refused subscribe asked again (retrySubscribe).
    const sub = { channel, handler, from: after, last: after, id: 0, after: null, retries: 0, timer: null };
    this.subs.set(channel, sub);
    if (this.status === 'live') this.sendSubscribe(sub);
    return () => this.unsubscribe(channel, sub);
  }

  unsubscribe(channel, only) {
    const sub = this.subs.get(channel);
    if (!sub || (only && sub !== only)) return;
    this.subs.delete(channel);
    clearTimeout(sub.timer);
    this.byId.delete(sub.id);
    this.setRefusal(channel, null);
    if (this.status === 'live' && sub.id) this.send({ op: 'unsubscribe', id: this.nextId++, channel });
  }

  // Closes the connection as if the network had dropped it; it comes back by itself.
  drop(why = 'dropped') {
    this.detach();
    this.refusedWhy = null;
    this.setStatus('offline', why);
    this.connectSoon(navigator.onLine ? this.backoff() : 5000);
  }

  // ---- internals

  setStatus(status, why = '') {
    if (this.status === status) return;
    this.status = status;
    for (const f of this.statusListeners) f(status, why);
  }

  setRefusal(channel, error) {
    if (!error && !this.refusals.has(channel)) return;
    if (error) this.refusals.set(channel, error);
    else this.refusals.delete(channel);
    for (const f of this.refusalListeners) f(this.refusals);
  }

  backoff() {
    const ms = Math.min(5000, 250 * 2 ** this.retry);
    this.retry++;
    return ms * (0.75 + Math.random() * 0.5);
  }

  connectSoon(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), ms);
  }

  detach() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.livenessTimer);
    if (!ws) return;
    // Whatever the old socket still delivers is not handled: positions stay
    // at what the page has shown, and the resume starts from there.
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      /* already closed */
    }
  }

  connect() {
    clearTimeout(this.timer);
    this.detach();
    if (this.session.expiresAt && Date.now() >= this.session.expiresAt) return signOut('your token has expired');
    if (this.status !== 'offline' && this.status !== 'refused') this.setStatus('connecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(this.token)}`);
    } catch {
      return this.connectSoon(this.backoff());
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      // The backoff starts again once a connection has lasted: one the
      // server closes soon after opening (1013 at the end of a catch-up the
      // page cannot keep up with) is not asked for again every 250 ms.
      clearTimeout(this.steadyTimer);
      this.steadyTimer = setTimeout(() => {
        if (this.ws === ws) this.retry = 0;
      }, STEADY_MS);
      this.checkTokenAfter = 0; // taken now; a later refusal is asked about at once
      this.refusedWhy = null;
      this.connects++;
      this.setStatus('live');
      for (const sub of this.subs.values()) this.sendSubscribe(sub);
    };
    ws.onmessage = (e) => {
      this.heardAt = Date.now();
      this.askedAt = null;
      this.receive(e.data);
    };
    this.heardAt = Date.now();
    this.askedAt = null;
    clearInterval(this.livenessTimer);
    this.livenessTimer = setInterval(() => this.checkLiveness(ws), CHECK_MS);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!opened && this.refusedWhy) this.setStatus('refused', this.refusedWhy);
      else this.setStatus('offline', e.code === 1013 ? 'the server asked us to catch up' : `closed (${e.code})`);
      if (!opened) return this.whyNotOpened();
      this.connectSoon(this.backoff());
    };
  }

  // Asks the server for an answer after a quiet spell; drops the connection
  // when none comes (above).
  checkLiveness(ws) {
    if (this.ws !== ws) return clearInterval(this.livenessTimer);
    if (ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (this.askedAt !== null) {
      const pending = [...this.subs.values()].some((sub) => sub.id && !sub.answered);
      const wait = pending ? Math.max(this.answerMs, PENDING_ANSWER_MS) : this.answerMs;
      if (now - this.askedAt < wait) return;
      this.answerMs = Math.min(2 * this.answerMs, MOST_ANSWER_MS);
      this.drop('no answer from the server');
    } else if (now - this.heardAt >= QUIET_MS) {
      this.askedAt = now;
      this.send({ op: 'unsubscribe', id: this.nextId++, channel: LIVENESS_CHANNEL });
    }
  }

  // The socket did not open: the network, or the server refused the
  // handshake. A 401 to the same token over HTTP says it is the token.
  async whyNotOpened() {
    const delay = this.backoff();
    if (navigator.onLine && Date.now() >= this.checkTokenAfter) {
      const answer = await checkToken(this.token);
      if (answer.status === 401) return signOut(answer.message);
      if (!answer.status) {
        this.refusedWhy = null; // the network, not a refusal
      } else {
        this.checkTokenAfter = Date.now() + TOKEN_CHECK_PAUSE_MS;
        this.refusedWhy =
          answer.status === 429
            ? `the server refused: ${answer.message}`
            : 'the server is up and takes this token, but did not open the live connection: it takes a few at a time for one token (other tabs or devices signed in with it?)';
        if (!this.ws) this.setStatus('refused', this.refusedWhy);
      }
    }
    if (!this.ws) this.connectSoon(delay); // unless "online" reconnected meanwhile
  }

  // A fresh store: what every channel had handled is of another log. The
  // pages drop what they hold, and each channel is subscribed again on a new
  // connection as it was first (the old one's answers, resumed on the wrong
  // log, are not handled).
  startOver() {
    this.detach();
    this.byId.clear();
    for (const sub of this.subs.values()) {
      sub.last = sub.from;
      sub.id = 0;
    }
    this.setStatus('connecting', 'the server is on another log: starting over');
    for (const f of [...this.freshStoreListeners]) f();
    this.connect();
  }

  send(op) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(op));
  }

  sendSubscribe(sub) {
    clearTimeout(sub.timer);
    sub.timer = null;
    this.byId.delete(sub.id);
    sub.id = this.nextId++;
    sub.answered = false; // until its `subscribed` or its refusal
    sub.after = sub.last;
    this.byId.set(sub.id, sub.channel);
    const op = { op: 'subscribe', id: sub.id, channel: sub.channel };
    if (sub.last !== null) op.after = sub.last;
    this.send(op);
  }

  // Asks for `sub` again after a refusal that passes, on its own backoff; a
  // new connection asks for every channel anyway (and clears the timer).
  retrySubscribe(sub) {
    clearTimeout(sub.timer);
    const ms = Math.min(RESUBSCRIBE_MOST_MS, RESUBSCRIBE_FIRST_MS * 2 ** sub.retries);
    sub.retries++;
    const id = sub.id;
    sub.timer = setTimeout(() => {
      sub.timer = null;
      if (this.subs.get(sub.channel) === sub && sub.id === id && this.status === 'live') this.sendSubscribe(sub);
    }, ms * (0.75 + Math.random() * 0.5));
  }

  receive(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (m.type === 'error') {
      const channel = this.byId.get(m.id);
      const sub = channel && this.subs.get(channel);
      if (!sub || sub.id !== m.id) return;
      sub.answered = true;
      if (sub.after !== null && m.error?.code === 'bad_request' && /^after/.test(m.error.message)) {
        return this.startOver(); // the server's log is shorter than what we saw
      }
      this.setRefusal(channel, m.error);
      if (PASSING.has(m.error?.code)) this.retrySubscribe(sub);
      return sub.handler(m);
    }
    if (m.type === 'unsubscribed') return;
    const sub = this.subs.get(m.channel);
    if (!sub) return;
    if (m.type === 'subscribed' && m.id !== sub.id) return;
    if (m.type === 'subscribed') {
      sub.retries = 0;
      sub.answered = true;
      this.setRefusal(sub.channel, null);
    }
    if (typeof m.position === 'number') sub.last = Math.max(sub.last ?? 0, m.position);
    sub.handler(m);
  }
}

// A banner that names every channel the server refused to follow, with the
// server's words, e.g. "Not following cell/santai/luxi — too_large: at most
// 300 subscriptions per connection". Hidden while there are none.
export function refusalBanner(push, el) {
  push.onRefusals((refusals) => {
    el.hidden = refusals.size === 0;
    el.replaceChildren(
      ...[...refusals].map(([channel, e]) =>
        h('div', { dataset: { channel } }, `Not following ${channel} — ${e.code}: ${e.message}`),
      ),
    );
  });
}

// A connection status pill for a page header.
export function statusPill(push, el) {
  const text = { live: 'Live', connecting: 'Connecting…', offline: 'Offline — reconnecting', refused: 'Refused — retrying' };
  push.onStatus((status, why) => {
    el.className = `pill pill-${status}`;
    el.dataset.status = status;
    el.textContent = text[status] ?? status;
    el.title = why;
  });
}
