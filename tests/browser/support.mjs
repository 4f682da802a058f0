// What the browser tests share: a real `casegrid serve` on a free port with
// its own data folder and secret, tokens minted by `casegrid token`, the HTTP
// API for writes, a small grid with cases, and headless Debian chromium.
import { spawn, execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CASEGRID_CHROMIUM || '/usr/bin/chromium';
const SECRET = 'browser-test-secret-0123456789abcdef-0123456789';

// A casegrid server for one test file, with `args` added to its serve
// command line. stop() ends it (SIGTERM) and removes its data.
export async function startServer(binary, { args = [] } = {}) {
  if (!binary || !existsSync(binary)) {
    throw new Error(`casegrid binary not found: ${binary} (pass it as the first argument)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'casegrid-browser-'));
  const env = { ...process.env, CASEGRID_JWT_SECRET: SECRET };
  const child = spawn(binary, ['serve', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // However this process ends, the server does not outlive it.
  const orphanGuard = () => child.kill('SIGKILL');
  process.on('exit', orphanGuard);
  let output = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 20000);
    const look = (chunk) => {
      output += chunk;
      const m = /on (http:\/\/[0-9.]+:\d+)\//.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
  // `secret`: sign with another secret than the server's (a token it refuses).
  const token = (sub, role, cells = [''], { secret = SECRET } = {}) =>
    execFileSync(binary, ['token', '--sub', sub, '--role', role, '--cells', cells.join(','), '--ttl', '2h'], {
      env: { ...env, CASEGRID_JWT_SECRET: secret },
      encoding: 'utf8',
    }).trim();
  return {
    base,
    token,
    api: (tok) => new Api(base, tok),
    async stop() {
      process.off('exit', orphanGuard);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The HTTP API as one token sees it. Errors throw with the server's message.
export class Api {
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }
  async call(method, path, body) {
    const res = await fetch(this.base + path, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const e = new Error(`${method} ${path}: ${res.status} ${json?.error?.message ?? text}`);
      e.status = res.status;
      e.body = json;
      throw e;
    }
    return json;
  }
  get(path) {
    return this.call('GET', path);
  }
  post(path, body = {}) {
    return this.call('POST', path, body);
  }
  report(fields) {
    return this.post('/api/v1/cases', {
      kind: 'dispute',
      channel: 'call',
      category: 'neighbour',
      priority: 'normal',
      summary: 'noise at night',
      reporter: { name: 'Li Hua', phone: '13800001234' },
      ...fields,
    });
  }
  act(id, action, body = {}) {
    return this.post(`/api/v1/cases/${id}/${action}`, body);
  }
}

// The grid of the tests: one district, two areas, three groups, five clusters.
export const GRID = [
  ['santai', 'Santai District'],
  ['santai/tongchuan', 'Tongchuan'],
  ['santai/tongchuan/g1', 'Tongchuan Group 1'],
  ['santai/tongchuan/g1/dongjie', 'Dongjie Community'],
  ['santai/tongchuan/g1/xijie', 'Xijie Community'],
  ['santai/tongchuan/g2', 'Tongchuan Group 2'],
  ['santai/tongchuan/g2/nanmen', 'Nanmen Village'],
  ['santai/luxi', 'Luxi'],
  ['santai/luxi/g1', 'Luxi Group 1'],
  ['santai/luxi/g1/beiguan', 'Beiguan Village'],
  ['santai/luxi/g1/hexi', 'Hexi Village'],
];

export const OFFICER_CELL = 'santai/tongchuan/g1/dongjie';

const SUMMARIES = [
  ['dispute', 'neighbour', 'water leaking through the ceiling'],
  ['dispute', 'family', 'inheritance of the family house'],
  ['incident', 'theft', 'e-bike stolen at the market'],
  ['hazard', 'fire_exit', 'fire exit blocked by storage'],
  ['assistance', 'registration', 'newborn household registration'],
  ['dispute', 'wages', 'unpaid wages at a building site'],
  ['incident', 'fight', 'quarrel outside a night-market stall'],
  ['dispute', 'landlord', 'deposit kept by a landlord'],
];
const PRIORITIES = ['normal', 'high', 'low', 'urgent', 'normal'];

// Defines the grid, assigns people, and writes cases in every state through
// the API, so that each chart has something to show. Returns case ids by use.
export async function seedCity(server) {
  const admin = server.api(server.token('admin-1', 'admin'));
  const operator = server.api(server.token('operator-1', 'operator'));
  const supervisor = server.api(server.token('supervisor-1', 'supervisor'));
  for (const [cell, name] of GRID) await admin.post('/api/v1/grid/cells', { cell, name });
  await admin.post(`/api/v1/grid/cells/${OFFICER_CELL}/officers`, { officer: 'officer-7', role: 'officer' });
  // officer-8 takes the cases of tongchuan's cells (an assignee must be on the grid of the case's cell).
  await admin.post('/api/v1/grid/cells/santai/tongchuan/officers', { officer: 'officer-8', role: 'officer' });
  await admin.post('/api/v1/grid/cells/santai/luxi/officers', { officer: 'officer-9', role: 'officer' });
  await admin.post('/api/v1/grid/cells/santai/officers', { officer: 'supervisor-1', role: 'supervisor' });

  const clusters = GRID.filter(([c]) => c.split('/').length === 4).map(([c]) => c);
  const officerOf = (cell) =>
    cell === OFFICER_CELL ? 'officer-7' : cell.startsWith('santai/tongchuan') ? 'officer-8' : 'officer-9';
  const ids = { open: [], inProgress: [], tier3: [], dissatisfied: [], resolved: [] };
  for (let i = 0; i < 26; i++) {
    const cell = clusters[(i * 3) % clusters.length];
    const [kind, category, summary] = SUMMARIES[i % SUMMARIES.length];
    const { case_id: id } = await operator.report({
      kind,
      category,
      summary,
      cell,
      channel: ['call', 'walk_in', 'contact_plate', 'watch_point', 'grid_patrol'][i % 5],
      priority: PRIORITIES[i % PRIORITIES.length],
      address: `${10 + i} ${cell.split('/').pop()} Road`,
      reporter: { name: `Resident ${i}`, phone: `1380000${String(1000 + i)}` },
    });
    const stage = i % 7;
    if (stage === 0) {
      ids.open.push(id);
      continue; // reported
    }
    const officer = officerOf(cell);
    const asOfficer = server.api(server.token(officer, 'officer', [cell]));
    await operator.act(id, 'assign', { assignee: officer });
    if (stage === 1) continue; // assigned
    await asOfficer.act(id, 'accept');
    await asOfficer.act(id, 'dispatch', { officer });
    await asOfficer.act(id, 'arrive', { officer });
    if (stage === 2) {
      ids.inProgress.push(id);
      continue;
    }
    if (kind === 'dispute' || stage === 3) {
      await asOfficer.act(id, 'mediate', {
        tier: 1,
        participants: ['both parties', 'grid worker'],
        outcome: stage === 3 ? 'no_agreement' : 'agreement',
        notes: 'session at the community office',
      });
    }
    if (stage === 3) {
      await asOfficer.act(id, 'escalate', { reason: 'no agreement at tier 1' });
      await supervisor.act(id, 'escalate', { reason: 'needs the judicial office', judicial: 'county court' });
      ids.tier3.push(id);
      continue;
    }
    await asOfficer.act(id, 'resolve', { resolution: 'handled_on_site', summary: 'settled on site' });
    if (stage === 4) {
      ids.resolved.push(id);
      continue; // callback due
    }
    const unhappy = stage === 5;
    await operator.act(id, 'complete-callback', {
      speed: 'satisfied',
      attitude: unhappy ? 'neutral' : 'satisfied',
      outcome: unhappy ? 'dissatisfied' : 'satisfied',
      comment: unhappy ? 'the leak is back' : 'thanks',
    });
    if (unhappy) ids.dissatisfied.push(id);
    else await operator.act(id, 'close');
  }
  return ids;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
  });
}

// Resolves when `predicate` (polled) is truthy; rejects after `ms` with `what`.
export async function eventually(predicate, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// A TCP relay on a free port in front of the server at `base`, for pages
// that must see one server go and another come back at the same address.
// switchTo(base) sends new connections to another server and drops every
// open one, as a restart would; close() ends it.
// silence(true): what comes is dropped, both ways, and no socket is closed
// (a path that died without a word); silence(false): it flows again.
export async function startRelay(base) {
  let target = new URL(base);
  let silent = false;
  const open = new Set();
  const relay = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      open.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => (open.delete(from), to.destroy()));
      from.on('data', (chunk) => silent || to.write(chunk));
    }
  });
  await new Promise((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const dropAll = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    base: `http://127.0.0.1:${relay.address().port}`,
    silence(on) {
      silent = on;
    },
    switchTo(next) {
      target = new URL(next);
      dropAll();
    },
    close() {
      dropAll();
      return new Promise((resolve) => relay.close(resolve));
    },
  };
}
