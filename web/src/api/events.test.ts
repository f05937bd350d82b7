import { describe, expect, it } from "vitest";
import { backoff, EventSourceLike, LiveEvent, LiveEvents } from "./events";

class FakeSource implements EventSourceLike {
  readyState = 0;
  onopen: ((ev: Event) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  closed = false;
  listeners = new Map<string, (ev: MessageEvent) => void>();
  addEventListener(type: string, listener: (ev: MessageEvent) => void) {
    this.listeners.set(type, listener);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }
  emit(type: string, data: string) {
    this.listeners.get(type)?.({ data } as MessageEvent);
  }
  fail(closed: boolean) {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event("error"));
  }
}

function harness() {
  const sources: FakeSource[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const events: LiveEvent[] = [];
  const states: boolean[] = [];
  let resyncs = 0;
  let gaveUp = 0;
  const live = new LiveEvents({
    onGaveUp: () => gaveUp++,
    onEvent: (e) => events.push(e),
    onResync: () => resyncs++,
    onState: (s) => states.push(s),
    open: () => {
      const s = new FakeSource();
      sources.push(s);
      return s;
    },
    schedule: (fn, ms) => timers.push({ fn, ms }),
    cancel: () => {},
  });
  return { live, sources, timers, events, states, resyncs: () => resyncs, gaveUp: () => gaveUp };
}

describe("LiveEvents", () => {
  it("delivers parsed events by kind and skips malformed data", () => {
    const h = harness();
    h.live.start();
    h.sources[0].open();
    h.sources[0].emit("execution_progress", '{"execution_id":"e1","percent":40}');
    h.sources[0].emit("execution_status", "not json");
    expect(h.events).toEqual([{ kind: "execution_progress", data: { execution_id: "e1", percent: 40 } }]);
    expect(h.states).toEqual([true]);
  });

  it("leaves a recoverable error to the browser", () => {
    const h = harness();
    h.live.start();
    h.sources[0].open();
    h.sources[0].fail(false);
    expect(h.timers).toHaveLength(0);
    expect(h.gaveUp()).toBe(0);
    expect(h.sources).toHaveLength(1);
    expect(h.states).toEqual([true, false]);
  });

  it("reconnects after a closed stream with growing delays, then resyncs once open", () => {
    const h = harness();
    h.live.start();
    h.sources[0].open();
    h.sources[0].fail(true);
    expect(h.gaveUp()).toBe(1);
    expect(h.timers.map((t) => t.ms)).toEqual([1000]);
    h.timers[0].fn();
    expect(h.sources).toHaveLength(2);
    h.sources[1].fail(true); // still down
    expect(h.timers.map((t) => t.ms)).toEqual([1000, 2000]);
    h.timers[1].fn();
    h.sources[2].open();
    expect(h.resyncs()).toBe(1);
    // A later failure starts again from the first delay.
    h.sources[2].fail(true);
    expect(h.timers[2].ms).toBe(1000);
  });

  it("resyncs on events_lost and lagged, and stops for good", () => {
    const h = harness();
    h.live.start();
    h.sources[0].open();
    h.sources[0].emit("events_lost", "{}");
    h.sources[0].emit("lagged", "{}");
    expect(h.resyncs()).toBe(2);
    h.live.stop();
    expect(h.sources[0].closed).toBe(true);
    h.sources[0].onerror?.(new Event("error"));
    expect(h.timers).toHaveLength(0);
  });

  it("caps the delay", () => {
    expect([0, 1, 2, 3, 4, 5, 20].map(backoff)).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});
