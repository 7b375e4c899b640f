import { describe, expect, it } from 'vitest';
import { DEFAULT_PASSWORD_ALPHABET, generateValue } from '../../../shared/rotation/index.js';

describe('generateValue', () => {
  it('generates passwords of the policy length with every character class', () => {
    for (let i = 0; i < 50; i++) {
      const value = generateValue({ generator: 'password', length: 12, rotateOnNearExpiry: true });
      expect(value).toHaveLength(12);
      expect(value).toMatch(/[A-Z]/);
      expect(value).toMatch(/[a-z]/);
      expect(value).toMatch(/[0-9]/);
      expect(value).toMatch(/[^A-Za-z0-9]/);
      expect([...value].every((c) => DEFAULT_PASSWORD_ALPHABET.includes(c))).toBe(true);
    }
  });

  it('draws only from a custom alphabet', () => {
    const value = generateValue({ generator: 'password', length: 64, alphabet: 'abcdefghij', rotateOnNearExpiry: true });
    expect(value).toMatch(/^[a-j]{64}$/);
  });

  it('never repeats a value', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateValue({ generator: 'password', length: 16, rotateOnNearExpiry: true })));
    expect(seen.size).toBe(200);
  });

  it('encodes random bytes as base64 or hex', () => {
    expect(Buffer.from(generateValue({ generator: 'bytes', length: 32, encoding: 'base64', rotateOnNearExpiry: true }), 'base64')).toHaveLength(32);
    expect(generateValue({ generator: 'bytes', length: 32, encoding: 'hex', rotateOnNearExpiry: true })).toMatch(/^[0-9a-f]{64}$/);
  });
});
