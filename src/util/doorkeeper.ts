/**
 * An admission filter for a cache (TinyLFU's "doorkeeper"): answers whether a key was probably
 * seen before, without keeping the key alive. One bit per hash in a fixed array, all cleared
 * once `capacity` keys have been added, so the bits never fill up. A false "seen" (another key
 * with the same bits) is rare and only admits a key early; "not seen" is never wrong since the
 * last clearing. A key whose two sightings straddle a clearing is admitted at its third.
 */
export function createDoorkeeper(bits: number, capacity = bits >>> 3) {
  if (!Number.isInteger(Math.log2(bits)) || bits < 32) throw new RangeError('bits must be a power of two, at least 32');
  const words = new Uint32Array(bits >>> 5);
  const mask = bits - 1;
  let added = 0;
  return {
    /** Marks `key` as seen; true if it (probably) had been seen since the last clearing. */
    seen(key: string): boolean {
      // FNV-1a over the UTF-16 code units.
      let hash = 0x811c9dc5;
      for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
      const bit = (hash >>> 0) & mask;
      const word = bit >>> 5;
      const flag = 1 << (bit & 31);
      if (((words[word] as number) & flag) !== 0) return true;
      words[word] = (words[word] as number) | flag;
      added += 1;
      if (added >= capacity) {
        words.fill(0);
        added = 0;
      }
      return false;
    },
  };
}

/** A doorkeeper for at least `keys` first sightings between clearings, at most one bit in eight set. */
export const doorkeeperFor = (keys: number) => createDoorkeeper(2 ** Math.ceil(Math.log2(Math.max(keys, 4))) * 8);
