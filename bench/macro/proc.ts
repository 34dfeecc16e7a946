// CPU time and memory of a process tree, from /proc (Linux only; elsewhere the figures are reported as missing).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

const TICKS_PER_SECOND = clockTicks();

interface StatLine {
  readonly ppid: number;
  /** User and system CPU seconds of every thread of the process. */
  readonly user: number;
  readonly system: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain spaces or parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state(3) ppid(4) ... utime(14) stime(15), numbered from 1 as in proc(5).
  return {
    ppid: Number(fields[1]),
    user: Number(fields[11]) / TICKS_PER_SECOND,
    system: Number(fields[12]) / TICKS_PER_SECOND,
  };
}

/** The pid and all its descendants (a proxy that forks workers is measured as a whole). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const st = readStat(Number(e));
    if (st === null) continue;
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [Number(e)]);
    else list.push(Number(e));
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 1024) {
    const pid = queue.shift() as number;
    out.push(pid);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}

export interface CpuTime {
  readonly user: number;
  readonly system: number;
}

/** Total CPU seconds used so far by a process tree; null when /proc cannot be read. */
export function cpuTime(root: number): CpuTime | null {
  if (readStat(root) === null) return null;
  let user = 0;
  let system = 0;
  for (const pid of processTree(root)) {
    const st = readStat(pid);
    if (st === null) continue;
    user += st.user;
    system += st.system;
  }
  return { user, system };
}

function statusField(pid: number, field: string): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]) * 1024;
}

export interface Memory {
  /** Resident set size now, bytes, summed over the tree. */
  readonly rss: number;
  /** Peak resident set size (VmHWM), bytes, summed over the tree. */
  readonly peakRss: number;
}

export function memory(root: number): Memory {
  let rss = 0;
  let peakRss = 0;
  for (const pid of processTree(root)) {
    rss += statusField(pid, 'VmRSS');
    peakRss += statusField(pid, 'VmHWM');
  }
  return { rss, peakRss };
}

/** 1-minute load average, to judge whether other work shared the machine during a run. */
export function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds every CPU of the machine has spent busy so far (user, nice, system, irq, softirq, steal), from the
 * first line of /proc/stat; null where it cannot be read. Compared with the processes a run knows about, it shows
 * how much else was running.
 */
export function machineBusySeconds(): number | null {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  } catch {
    return null;
  }
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return busy / TICKS_PER_SECOND;
}
