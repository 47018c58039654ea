// The small city, ingested into a fresh store, with a canary region beside
// it (an officer of the city must see nothing of it), served by the `anju`
// binary on a free port; the tokens of each role. What the tests need is
// written to tests/.state.json.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STATE = join(dirname(fileURLToPath(import.meta.url)), '.state.json');

function anjuBin(): string {
  if (process.env.ANJU_BIN) return process.env.ANJU_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? '', '.cache/anju/target');
  return join(target, 'debug', 'anju');
}

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
}

const canary = () => {
  const f = (step: number, phase: number) => {
    const v = Array.from({ length: 128 }, (_, i) => (i % step === phase ? 1 : 0));
    const n = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    return v.map((y) => y / n);
  };
  const B = '330102001001';
  const l: unknown[] = [
    { type: 'region', code: '330000', name: '浙江省', level: 'province' },
    { type: 'region', code: '330100', name: '杭州市', level: 'city', parent: '330000' },
    { type: 'region', code: '330102', name: '上城区', level: 'district', parent: '330100' },
    { type: 'region', code: '330102001', name: '上城区第1派出所', level: 'station', parent: '330102' },
    { type: 'region', code: B, name: '金丝雀社区', level: 'community', parent: '330102001' },
    { type: 'community', id: 'CANARYC', name: '金丝雀小区', region: B, center: [120.17, 30.25] },
    { type: 'house', id: 'CANARYC-1-1-101', community: 'CANARYC', building: '1', unit: '1', room: '101', use: 'self', area_m2: 90 },
    { type: 'person', id: '330102199001017775', id_number: '330102199001017775', name: '甄金丝', gender: 'F', birth_date: '1990-01-01', phone: '13999997777', household: 'local', face: f(7, 3) },
    { type: 'residence', person: '330102199001017775', house: 'CANARYC-1-1-101', role: 'owner' },
    { type: 'device', id: '33010200001310009999', kind: 'unit_door', community: 'CANARYC', building: '1', unit: '1', location: [120.1701, 30.2501], direction: 'both' },
  ];
  for (let d = 1; d <= 5; d++) {
    l.push({ type: 'access', id: `canary-acc-${d}`, device: '33010200001310009999', time: `2026-10-0${d}T21:00:00+08:00`, method: 'face', person: '330102199001017775', direction: 'in' });
  }
  return l.map((v) => JSON.stringify(v)).join('\n') + '\n';
};

export default async function setup() {
  // ANJU_WEB_REUSE=1: keep the server between runs (while developing)
  if (process.env.ANJU_WEB_REUSE && existsSync(STATE)) {
    const old = JSON.parse(readFileSync(STATE, 'utf8')) as { baseUrl: string };
    if (await fetch(`${old.baseUrl}/health`).then((r) => r.ok, () => false)) return;
  }
  const bin = anjuBin();
  const dir = mkdtempSync(join(tmpdir(), 'anju-web-'));
  const data = join(dir, 'city');
  const store = join(dir, 'store');
  const run = (...args: string[]) => execFileSync(bin, ['--store', store, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  execFileSync(bin, ['fixtures', '--preset', 'small', '--seed', '42', '--out', data], { stdio: 'ignore' });
  writeFileSync(join(dir, 'canary.jsonl'), canary());
  run('ingest', '--progress', 'none', data, join(dir, 'canary.jsonl'));
  run('analyze', '--progress', 'none');
  const config = join(dir, 'serve.toml');
  writeFileSync(config, 'version = 1\n[server]\nanalysis_every_mins = 0\n[alerts]\nelderly_check_mins = 0\n[auth]\nrate_per_minute = 100000\nrate_burst = 10000\n');
  const regionA = '320902';
  const token = (role: string, ...more: string[]) =>
    execFileSync(bin, ['--config', config, '--store', store, 'token', 'create', '--role', role, '--quiet', ...more], { encoding: 'utf8' }).trim();
  const tokens = {
    admin: token('admin', '--name', 'admin'),
    officer: token('officer', '--region', regionA, '--name', '王警官'),
    analyst: token('analyst', '--region', regionA, '--name', 'analyst'),
    commander: token('commander', '--region', '320000', '--name', 'commander'),
    dashboard: token('dashboard', '--region', regionA, '--name', 'screen'),
    batch: token('batch', '--region', regionA, '--name', 'job'),
  };
  const port = await freePort();
  const log = openSync(join(dir, 'serve.log'), 'a');
  const child = spawn(bin, ['--config', config, '--store', store, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', log, log], detached: false });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      const r = await fetch(`${baseUrl}/health`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  writeFileSync(STATE, JSON.stringify({ baseUrl, pid: child.pid, dir, tokens, regionA, data }, null, 2));
  child.unref();
}
