interface Pending<I, O> {
  item: I;
  resolve(output: O): void;
  reject(error: unknown): void;
}

export interface MicroBatchOptions<I> {
  /** Most items in one batch; a full batch is sent at once. */
  maxBatch: number;
  /** Items of different groups never share a batch (e.g. Redis Cluster: one slot per script). */
  groupOf?: (item: I) => string;
}

/**
 * Turns one-at-a-time calls into batches: calls made while the event loop handles one round of
 * I/O (every request that arrived together) are collected and sent once that round ends
 * (`setImmediate`), as one `run` per group, or as soon as `maxBatch` of them are waiting. Under
 * load, many requests share one round trip; alone, a call waits for nothing but the end of its
 * own round. `run` answers in input order, one output per item; if it fails (or answers with
 * another count), every call of the batch fails with its error.
 */
export function microBatch<I, O>(run: (items: I[]) => Promise<O[]>, { maxBatch, groupOf }: MicroBatchOptions<I>): (item: I) => Promise<O> {
  let groups = new Map<string, Pending<I, O>[]>();
  let scheduled = false;

  const send = (batch: Pending<I, O>[]) => {
    const fail = (error: unknown) => {
      for (const pending of batch) pending.reject(error);
    };
    const settle = (outputs: O[]) => {
      // An answer per call or none: a short reply must fail its calls, not answer `undefined`.
      if (outputs.length !== batch.length) return fail(new Error(`a batch of ${batch.length} was answered with ${outputs.length}`));
      for (let i = 0; i < batch.length; i++) (batch[i] as Pending<I, O>).resolve(outputs[i] as O);
    };
    try {
      run(batch.map((pending) => pending.item)).then(settle, fail);
    } catch (error) {
      fail(error);
    }
  };
  const flush = () => {
    scheduled = false;
    const ready = groups;
    groups = new Map();
    for (const batch of ready.values()) send(batch);
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      const group = groupOf ? groupOf(item) : '';
      let batch = groups.get(group);
      if (!batch) groups.set(group, (batch = []));
      batch.push({ item, resolve, reject });
      if (batch.length >= maxBatch) {
        groups.delete(group);
        send(batch);
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
