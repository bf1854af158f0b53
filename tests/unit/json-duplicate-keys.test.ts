import { describe, expect, it } from 'vitest';
import { duplicateJsonKey } from '../../src/http/json-duplicate-keys.js';

describe('duplicateJsonKey', () => {
  it('finds a key given twice in the top-level object, compared as decoded', () => {
    expect(duplicateJsonKey('{"token":"a","token":"b"}')).toBe('token');
    expect(duplicateJsonKey('{"email":"a","\\u0065mail":"b"}')).toBe('email');
    expect(duplicateJsonKey('{ "a" : [1, {"b": 2}], "c": {"a": 1}, "a": null }')).toBe('a');
    expect(duplicateJsonKey('{"__proto__":1,"__proto__":2}')).toBe('__proto__');
    expect(duplicateJsonKey('{"":1,"":2}')).toBe('');
    expect(duplicateJsonKey('{"😀":1,"\\ud83d\\ude00":2}')).toBe('😀');
  });

  it('reads string values, nested objects and arrays as no keys of the top level', () => {
    expect(duplicateJsonKey('{"a":"a","b":"a"}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":{"b":1},"b":[{"a":1},{"a":2}]}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":"{\\"a\\":1,\\"a\\":2}","b":"x\\\\","c":",\\"b\\":","d":"\\\\\\""}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":[1,"a",{"a":1}],"x":true , "y" : null}')).toBeUndefined();
    // Nothing nested is read by name: its duplicates change nothing a route sees.
    expect(duplicateJsonKey('{"a":{"d":1,"d":2}}')).toBeUndefined();
    expect(duplicateJsonKey('[{"x":1,"x":2}]')).toBeUndefined();
    expect(duplicateJsonKey('"a"')).toBeUndefined();
    expect(duplicateJsonKey('{}')).toBeUndefined();
  });

  it('ends on text that is not JSON (a string never closed) instead of scanning for ever', () => {
    expect(duplicateJsonKey('{"a":1,"b')).toBeUndefined();
    expect(duplicateJsonKey('{"a":"\\"}')).toBeUndefined();
  });

  it('agrees with JSON.parse on which keys the top level holds', () => {
    const bodies = ['{"a":1,"b":"\\\\","c":"\\"","d":{"a":1,"b":2},"e":["\\\\\\"",{"f":1}]}', '{"a\\\\":1,"a":2,"\\"a":3}'];
    for (const body of bodies) {
      expect(duplicateJsonKey(body)).toBeUndefined();
      expect(duplicateJsonKey(body.replace(/}$/, ',"a":0}'))).toBe('a');
    }
  });
});
