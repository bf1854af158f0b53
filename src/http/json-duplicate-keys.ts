const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * Where the string opened at `open` closes: the next quote not escaped (not after an odd run of
 * backslashes); the text's end if none does (not JSON: never so after `JSON.parse`).
 */
function stringEnd(text: string, open: number): number {
  let close = text.indexOf('"', open + 1);
  for (;;) {
    if (close === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(close - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return close;
    close = text.indexOf('"', close + 1);
  }
}

/**
 * The first key given twice in the top-level object of `text` (valid JSON: `JSON.parse` read
 * it), or `undefined`. `JSON.parse` keeps the last of them silently, where a proxy or a log may
 * read the first: the body would mean two things. Keys compare as decoded (`"\u0065mail"` is
 * `"email"`). Only the top level: every body's fields are its keys, and nothing nested is read by
 * name. One pass, strings skipped with `indexOf`: a 1 MB body costs a few ms, no more than
 * parsing it.
 */
export function duplicateJsonKey(text: string): string | undefined {
  // A body whose value is no object has no keys of its own (JSON allows whitespace before it).
  if (!text.trimStart().startsWith('{')) return undefined;
  const keys = new Set<string>();
  let depth = 0;
  let expectsKey = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = stringEnd(text, i);
      if (depth === 1 && expectsKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (keys.has(key)) return key;
        keys.add(key);
        expectsKey = false;
      }
      i = end;
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      if (++depth === 1) expectsKey = true;
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) depth--;
    else if (code === COMMA && depth === 1) expectsKey = true;
  }
  return undefined;
}
