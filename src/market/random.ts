/**
 * A small seeded PRNG: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state,
 * passes PractRand) seeded through the cyrb128 string hash, with Box-Muller normals. Its whole
 * state is six plain numbers, so it survives JSON and continues exactly where it stopped.
 */
export interface Random {
  /** Uniform in [0, 1), 32 bits of resolution. */
  uniform(): number;
  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number;
  /** The whole state: `restoreRandom(r.state())` continues identically. */
  state(): number[];
}

/** A generator seeded from any string or number; equal seeds give equal streams. */
export function createRandom(seed: string | number): Random {
  const random = restoreRandom([...hash128(String(seed)), 0, 0]);
  for (let i = 0; i < 15; i++) random.uniform(); // mix the seed into the counter-based state
  return random;
}

/** A generator continuing from `state()` of another. */
export function restoreRandom(state: readonly number[]): Random {
  if (state.length !== 6 || !state.every(Number.isFinite)) {
    throw new RangeError('a Random state is six finite numbers');
  }
  let [a, b, c, d, hasSpare, spare] = state as [number, number, number, number, number, number];
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  return {
    uniform: next,
    normal() {
      if (hasSpare) {
        hasSpare = 0;
        return spare;
      }
      const radius = Math.sqrt(-2 * Math.log(1 - next())); // 1 - u is in (0, 1]: log is finite
      const angle = 2 * Math.PI * next();
      spare = radius * Math.sin(angle);
      hasSpare = 1;
      return radius * Math.cos(angle);
    },
    state: () => [a | 0, b | 0, c | 0, d | 0, hasSpare, spare],
  };
}

/** cyrb128: four well-mixed 32-bit words from a string. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  return [h1 | 0, (h2 ^ h1) | 0, (h3 ^ h1) | 0, (h4 ^ h1) | 0];
}
