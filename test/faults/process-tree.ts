/**
 * Process trees from /proc, for a power cut: a vault, its embedded PostgreSQL (detached, in a
 * process group of its own) and that server's backends all go at once.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Every live descendant of pid (children, grandchildren, …), from the ppid links in /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z') continue;
    const list = children.get(Number(ppid)) ?? [];
    list.push(Number(entry));
    children.set(Number(ppid), list);
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/**
 * A power cut for a process tree: everything is frozen first (SIGSTOP, repeated until no new
 * process appears, so that nothing runs on between one kill and the next), then SIGKILLed
 * together. Returns the pids that were killed.
 */
export function powerCut(rootPid: number): number[] {
  const frozen = new Set<number>([rootPid]);
  signal(rootPid, 'SIGSTOP');
  for (;;) {
    const fresh = descendants(rootPid).filter((p) => !frozen.has(p));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      signal(p, 'SIGSTOP');
      frozen.add(p);
    }
  }
  for (const p of frozen) signal(p, 'SIGKILL');
  return [...frozen];
}

/** True once pid has exited (a zombie waiting for its reaper counts as gone: it runs nothing). */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
