import type { ReadStream } from 'node:tty';
import { AppError } from '../errors.js';

/** The operator cancelled typing the password (Ctrl-C, or Ctrl-D on an empty line). */
export class PasswordEntryCancelled extends Error {
  constructor() {
    super('password entry cancelled');
  }
}

const ENTER = new Set(['\r', '\n']);
const ERASE = new Set(['\u007f', '\b']);
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';

/**
 * The password from the first line of stdin; its newline is not part of it. At a terminal it is
 * typed after a prompt on stderr and never echoed (as `sudo` or `read -s` do); piped, the first
 * line is read as it comes.
 */
export function readPasswordLine(input: NodeJS.ReadStream = process.stdin, prompt: NodeJS.WriteStream = process.stderr): Promise<string> {
  return input.isTTY ? readHidden(input as ReadStream, prompt) : readFirstLine(input);
}

async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) {
    chunks.push(chunk as Buffer);
    if ((chunk as Buffer).includes(0x0a)) break;
  }
  const bytes = Buffer.concat(chunks);
  // Nothing at all (`< /dev/null`, an empty variable piped in), not an empty password to refuse as short.
  if (bytes.length === 0) throw new AppError('invalid_request', 'no password on stdin (--password-stdin reads its first line)');
  const end = bytes.indexOf(0x0a);
  let line: string;
  try {
    // Not decoded leniently: bytes that are no UTF-8 would each become U+FFFD, and two different
    // such passwords would hash alike (the API refuses such text with a 400 too).
    line = new TextDecoder('utf-8', { fatal: true }).decode(end === -1 ? bytes : bytes.subarray(0, end));
  } catch {
    throw new AppError('invalid_request', 'the password is not valid UTF-8 text');
  }
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

async function readHidden(input: ReadStream, prompt: NodeJS.WriteStream): Promise<string> {
  // Echo off before the prompt shows: nothing typed after it is echoed.
  input.setRawMode(true);
  input.setEncoding('utf8');
  prompt.write('password: ');
  // Code points, so that erasing a character never leaves half of a surrogate pair.
  const typed: string[] = [];
  try {
    // Not destroyed on return: a destroyed stdin could no longer leave raw mode, and the terminal
    // would stay raw (no Ctrl-C) for the rest of the command.
    for await (const chunk of input.iterator({ destroyOnReturn: false })) {
      for (const char of chunk as string) {
        if (ENTER.has(char)) return typed.join('');
        if (char === CTRL_C || (char === CTRL_D && typed.length === 0)) throw new PasswordEntryCancelled();
        if (char === CTRL_D) return typed.join('');
        if (ERASE.has(char)) typed.pop();
        else typed.push(char);
      }
    }
    return typed.join('');
  } finally {
    input.setRawMode(false);
    input.pause();
    prompt.write('\n');
  }
}
