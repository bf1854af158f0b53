/** A JSON string, or one of the characters that open, close or separate objects and arrays. */
const TOKENS = /"(?:[^"\\]|\\.)*"|[{}[\],]/g;

type Frame = { keys: Set<string>; expectsKey: boolean } | undefined;

/**
 * The first key given twice in one object of `text` (valid JSON: `JSON.parse` read it), at any
 * depth, or `undefined`. `JSON.parse` keeps the last of them silently, where a proxy or a log
 * may read the first: the body would mean two things. Keys compare as decoded (`"\u0065mail"`
 * is `"email"`).
 */
export function duplicateJsonKey(text: string): string | undefined {
  const stack: Frame[] = [];
  for (const [token] of text.matchAll(TOKENS)) {
    const top = stack.at(-1);
    if (token === '{') stack.push({ keys: new Set(), expectsKey: true });
    else if (token === '[') stack.push(undefined);
    else if (token === '}' || token === ']') stack.pop();
    else if (token === ',') {
      if (top) top.expectsKey = true;
    } else if (top?.expectsKey) {
      const key = JSON.parse(token) as string;
      if (top.keys.has(key)) return key;
      top.keys.add(key);
      top.expectsKey = false;
    }
  }
  return undefined;
}
