import { compareFencingTokens, fencingTokenSchema } from './fencing-token.js';

const parsed = (value: unknown) => fencingTokenSchema.safeParse(value);
const token = (value: unknown) => fencingTokenSchema.parse(value);

describe('fencingTokenSchema', () => {
  it.each<[string, unknown, string]>([
    ['a digit string', '1001', '1001'],
    ['zero', '0', '0'],
    ['leading zeros, dropped', '007', '7'],
    ['all zeros', '0000', '0'],
    ['an integer', 1001, '1001'],
    ['the integer zero', 0, '0'],
    ['the largest safe integer', 2 ** 53 - 1, '9007199254740991'],
    // etcd's revisions are 64-bit: a string keeps every digit, beyond what a number can hold.
    ['a 20-digit string, exactly', '18446744073709551615', '18446744073709551615'],
    ['the widest 20-digit string', '9'.repeat(20), '9'.repeat(20)],
    ['a string beyond 2**53, exactly', '9007199254740993', '9007199254740993'],
  ])('takes %s, as a digit string', (_case, value, normalised) => {
    const result = parsed(value);
    expect(result.success).toBe(true);
    expect(result.data).toBe(normalised);
  });

  it.each<[string, unknown]>([
    ['a negative integer', -1],
    ['a negative digit string', '-1'],
    ['a float', 1.5],
    ['a decimal string', '1.5'],
    ['letters', 'fencing-token-1'],
    ['hex', '0x10'],
    ['an exponent', '1e3'],
    ['digits with spaces', ' 1'],
    ['21 digits', '1'.repeat(21)],
    ['an empty string', ''],
    ['an unsafe integer (not exact as a number)', 2 ** 53],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['null', null],
    ['a boolean', true],
    ['a bigint', 1n],
    ['an object', { token: '1' }],
  ])('refuses %s', (_case, value) => {
    expect(parsed(value).success).toBe(false);
  });

  it('names the rule when it refuses a string', () => {
    expect(parsed('abc').error?.issues[0]?.message).toBe('must be a string of 1 to 20 digits');
  });
});

describe('compareFencingTokens', () => {
  it('orders tokens as numbers, not as text', () => {
    expect(compareFencingTokens('10', '9')).toBeGreaterThan(0);
    expect(compareFencingTokens('9', '10')).toBeLessThan(0);
    expect(compareFencingTokens('1000', '999')).toBeGreaterThan(0);
    expect(compareFencingTokens('1001', '1001')).toBe(0);
    expect(compareFencingTokens('0', '0')).toBe(0);
  });

  it('answers -1, 0 or 1', () => {
    expect(compareFencingTokens('1', '1000000')).toBe(-1);
    expect(compareFencingTokens('1000000', '1')).toBe(1);
    expect(compareFencingTokens('5', '5')).toBe(0);
  });

  it('orders exactly beyond 2**53, up to 20 digits', () => {
    // As numbers both would be 9007199254740992: only an exact comparison tells them apart.
    expect(compareFencingTokens('9007199254740993', '9007199254740992')).toBe(1);
    expect(compareFencingTokens('9007199254740992', '9007199254740993')).toBe(-1);
    expect(compareFencingTokens('99999999999999999999', '99999999999999999998')).toBe(1);
    expect(compareFencingTokens('18446744073709551615', '18446744073709551616')).toBe(-1);
    expect(compareFencingTokens('10000000000000000000', '9999999999999999999')).toBe(1);
    expect(compareFencingTokens('99999999999999999999', '99999999999999999999')).toBe(0);
  });

  it('orders what the schema normalised: a token given with leading zeros is the same token', () => {
    expect(compareFencingTokens(token('007'), token(7))).toBe(0);
    expect(compareFencingTokens(token('010'), token('9'))).toBe(1);
  });
});
