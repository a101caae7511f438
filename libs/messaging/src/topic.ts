/**
 * AMQP topic-exchange matching: keys and patterns are words split on '.', `*` matches
 * exactly one word and `#` zero or more. The empty string has zero words, as in
 * RabbitMQ (so `#` matches it).
 */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const p = words(pattern);
  const k = words(routingKey);
  // memo[i * (k.length + 1) + j]: 0 unknown, 1 match, 2 no match. Bounds the work of
  // patterns with several `#` to |p|·|k| instead of exponential backtracking.
  const memo = new Uint8Array((p.length + 1) * (k.length + 1));
  const match = (i: number, j: number): boolean => {
    const slot = i * (k.length + 1) + j;
    if (memo[slot] !== 0) return memo[slot] === 1;
    let result: boolean;
    if (i === p.length) result = j === k.length;
    else if (p[i] === '#') result = match(i + 1, j) || (j < k.length && match(i, j + 1));
    else if (j === k.length) result = false;
    else result = (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
    memo[slot] = result ? 1 : 2;
    return result;
  };
  return match(0, 0);
}

function words(s: string): string[] {
  return s === '' ? [] : s.split('.');
}
