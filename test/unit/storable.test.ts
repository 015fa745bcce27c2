import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findUnstorable, printable, storableText, unstorableReason } from '../../db/storable';

describe('text PostgreSQL can store', () => {
  it('when text holds NUL or an unpaired surrogate, then the reason names it; a surrogate pair is fine', () => {
    expect(unstorableReason('a\u0000b')).toContain('NUL (U+0000)');
    expect(unstorableReason('a\ud800b')).toContain('unpaired surrogate (U+D800)');
    expect(unstorableReason('\udc00')).toContain('U+DC00');
    expect(unstorableReason('end\ud83d')).toContain('U+D83D');
    expect(unstorableReason('\ude00\ud83d')).toContain('U+DE00');
    expect(unstorableReason('emoji \ud83d\ude00, tab\t, bell\u0007, é')).toBeUndefined();
  });

  it('when text is made storable, then NUL and lone surrogates become U+FFFD and pairs stay', () => {
    expect(storableText('a\u0000b\ud800c\ud83d\ude00')).toBe('a\ufffdb\ufffdc\ud83d\ude00');
    expect(printable('a\u0000\ud800')).toBe('a\\u0000\\ud800');
  });

  it('when a value nests poison in values and keys, then each is found with its path, in document order', () => {
    const value = { type: 'x', input: { laptop: { model: 'T14\u0000' }, 'k\u0000': 1, list: ['ok', '\ud800'] } };
    expect(findUnstorable(value)).toEqual([
      { path: ['input', 'laptop', 'model'], message: expect.stringContaining('NUL') as string },
      { path: ['input', 'k\\u0000'], message: expect.stringContaining('the key contains NUL') as string },
      { path: ['input', 'list', 1], message: expect.stringContaining('U+D800') as string },
    ]);
  });

  it('when a value nests past maxDepth, then the first too-deep level is reported, not walked', () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const issues = findUnstorable(deep, { maxDepth: 32 });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('nested deeper than 32 levels');
    expect(issues[0]!.path).toHaveLength(32);
    expect(findUnstorable({ a: { b: [1] } }, { maxDepth: 3 })).toEqual([]);
    expect(findUnstorable({ a: { b: [[1]] } }, { maxDepth: 3 })).toHaveLength(1);
  });

  it('when a value nests 100 000 levels without a limit, then the walk does not overflow the stack', () => {
    let deep: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnstorable(deep)).toHaveLength(1);
  });

  it('when there are many issues, then maxIssues of them come back', () => {
    expect(findUnstorable(Array.from({ length: 50 }, () => '\u0000'), { maxIssues: 3 })).toHaveLength(3);
  });

  it('when any string is checked, then it is refused exactly when its UTF-8 round trip changes it or it holds NUL', () => {
    const unit = fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d\ude00', 'a'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 10 }), (text) => {
        const lossless = Buffer.from(text, 'utf8').toString('utf8') === text;
        expect(unstorableReason(text) === undefined).toBe(lossless && !text.includes('\u0000'));
        expect(unstorableReason(storableText(text))).toBeUndefined();
      }),
      { seed: 11, numRuns: 500 },
    );
  });
});
