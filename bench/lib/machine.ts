import os from 'node:os';

/** One line naming the machine a run was taken on. */
export function machine(): string {
  const cpus = os.cpus();
  const model = (cpus[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  const memGiB = (os.totalmem() / 1024 ** 3).toFixed(0);
  return `${model}, ${cpus.length} vCPU, ${memGiB} GiB RAM, ${os.type()} ${os.release()}, node ${process.version}`;
}
