interface Lane {
  running?: Promise<void>;
  queued?: Promise<void>;
}

/**
 * Runs of some work per key, each started after the call that asks for it: a call while none
 * runs starts one; calls while one runs share the next, started once it settles (it may have
 * begun before they were made, so it cannot answer them). However many calls arrive, at most
 * one run per key is in flight and one waits. Every call sharing a run gets its outcome; the
 * run is the `start` of the call that made it.
 */
export function nextRun<K extends object>(): (key: K, start: () => Promise<void>) => Promise<void> {
  const lanes = new WeakMap<K, Lane>();
  return (key, start) => {
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = {}));
    if (lane.queued) return lane.queued;
    const launch = (on: Lane) => {
      const running: Promise<void> = start().finally(() => {
        if (on.running === running) on.running = undefined;
      });
      on.running = running;
      return running;
    };
    if (!lane.running) return launch(lane);
    const waiting = lane;
    const queued = lane.running
      .catch(() => {})
      .then(() => {
        waiting.queued = undefined;
        return launch(waiting);
      });
    lane.queued = queued;
    return queued;
  };
}
