import { readFileSync, rmSync } from 'node:fs';
import { STATE } from './global-setup';

export default async function teardown() {
  if (process.env.ANJU_WEB_REUSE) return;
  const s = JSON.parse(readFileSync(STATE, 'utf8')) as { pid: number; dir: string };
  try {
    process.kill(s.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  await new Promise((ok) => setTimeout(ok, 1500));
  if (!process.env.ANJU_KEEP) rmSync(s.dir, { recursive: true, force: true });
}
