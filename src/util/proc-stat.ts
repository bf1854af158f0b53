import { readFileSync } from 'node:fs';

/**
 * A `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`) line, read once, as an accessor of its
 * fields numbered as in proc(5), from 3 on: those after the command name, which may hold spaces
 * and parentheses. `undefined` where the file cannot be read (the process or thread has ended;
 * not Linux).
 */
export function readProcStat(path: string): ((field: number) => string | undefined) | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (field) => fields[field - 3];
}
