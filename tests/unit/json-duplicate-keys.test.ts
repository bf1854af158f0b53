import { describe, expect, it } from 'vitest';
import { duplicateJsonKey } from '../../src/http/json-duplicate-keys.js';

describe('duplicateJsonKey', () => {
  it('finds a key given twice in one object, at any depth, compared as decoded', () => {
    expect(duplicateJsonKey('{"token":"a","token":"b"}')).toBe('token');
    expect(duplicateJsonKey('{"email":"a","\\u0065mail":"b"}')).toBe('email');
    expect(duplicateJsonKey('{"a":{"b":1,"c":[{"d":1,"d":2}]}}')).toBe('d');
    expect(duplicateJsonKey('[{"x":1},{"y":1,"y":2}]')).toBe('y');
    expect(duplicateJsonKey('{"__proto__":1,"__proto__":2}')).toBe('__proto__');
  });

  it('reads string values, nested objects and arrays as no keys of their own', () => {
    expect(duplicateJsonKey('{"a":"a","b":"a"}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":"{\\"a\\":1,\\"a\\":2}","b":"x\\\\","c":","}')).toBeUndefined();
    expect(duplicateJsonKey('{"a":[1,"a",{"a":1}],"x":true , "y" : null}')).toBeUndefined();
    expect(duplicateJsonKey('"a"')).toBeUndefined();
    expect(duplicateJsonKey('{}')).toBeUndefined();
  });
});
