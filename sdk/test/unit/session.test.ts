import { beforeEach, describe, expect, it, vi } from "vitest";
import { Sessions } from "../../src/session";

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = 1_763_700_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("Sessions", () => {
  beforeEach(() => localStorage.clear());

  it("keeps one UUID session while active and numbers its events", () => {
    const s = new Sessions(30 * MIN, 24 * HOUR);
    const a = s.next(T0);
    const b = s.next(T0 + 29 * MIN);
    const c = s.next(T0 + 58 * MIN); // 29 min after the last activity
    expect(a.id).toMatch(UUID);
    expect([b.id, c.id]).toEqual([a.id, a.id]);
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
  });

  it("starts a new session after 30 min of inactivity and tells the previous id", () => {
    const changed = vi.fn();
    const s = new Sessions(30 * MIN, 24 * HOUR, changed);
    const a = s.next(T0);
    const b = s.next(T0 + 30 * MIN + 1);
    expect(b.id).not.toBe(a.id);
    expect(b.seq).toBe(1);
    expect(b.start).toBe(T0 + 30 * MIN + 1);
    expect(changed).toHaveBeenCalledExactlyOnceWith(a.id);
  });

  it("ends a session at its maximum length even when active", () => {
    const s = new Sessions(30 * MIN, 24 * HOUR);
    const first = s.next(T0).id;
    let t = T0;
    while (t < T0 + 24 * HOUR) expect(s.next((t += 20 * MIN)).id).toBe(first);
    expect(s.next(T0 + 24 * HOUR + 1).id).not.toBe(first);
  });

  it("shares the session between tabs, with sequence numbers unique in the session", () => {
    const tabA = new Sessions(30 * MIN, 24 * HOUR);
    const changedB = vi.fn();
    const tabB = new Sessions(30 * MIN, 24 * HOUR, changedB);
    const a = tabA.next(T0);
    const b = tabB.next(T0 + MIN);
    expect(b.id).toBe(a.id);
    const seqs: number[] = [a.seq, b.seq];
    for (let i = 0; i < 500; i++) seqs.push((i % 3 ? tabA : tabB).next(T0 + MIN + i).seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs.filter((_, i) => i % 3 === 0 && i > 1)).toEqual([...seqs.filter((_, i) => i % 3 === 0 && i > 1)].sort((x, y) => x - y));
    // Tab A finds it expired and starts a new one; tab B follows without starting a third.
    const a2 = tabA.next(T0 + 40 * MIN);
    const b2 = tabB.next(T0 + 40 * MIN + 1);
    expect(b2.id).toBe(a2.id);
    expect(changedB).toHaveBeenCalledExactlyOnceWith(a.id);
  });

  it("hands out replay chunk indexes per session, none for a session no longer stored", () => {
    const s = new Sessions(30 * MIN, 24 * HOUR);
    const { id } = s.next(T0);
    expect([s.nextChunk(id), s.nextChunk(id), s.nextChunk(id)]).toEqual([0, 1, 2]);
    s.next(T0 + HOUR);
    expect(s.nextChunk(id)).toBe(-1);
  });

  it("writes localStorage only for new sequence blocks and at most once a second for activity", () => {
    const setItem = vi.spyOn(localStorage, "setItem");
    const s = new Sessions(30 * MIN, 24 * HOUR);
    for (let i = 0; i < 100; i++) s.next(T0 + i);
    expect(setItem).toHaveBeenCalledTimes(2); // the new session, its first block
    s.next(T0 + 1000);
    s.next(T0 + 1500);
    expect(setItem).toHaveBeenCalledTimes(3); // activity, then the second block
    setItem.mockRestore();
  });

  it("keeps working in memory when localStorage refuses writes", () => {
    const s = new Sessions(30 * MIN, 24 * HOUR);
    const a = s.next(T0);
    const setItem = vi.spyOn(localStorage, "setItem").mockImplementation(() => {
      throw new DOMException("full", "QuotaExceededError");
    });
    const b = s.next(T0 + 10 * MIN);
    const c = new Sessions(30 * MIN, 24 * HOUR).next(T0 + 35 * MIN); // 25 min after b: alive only if b was kept
    expect([b.id, c.id]).toEqual([a.id, a.id]);
    setItem.mockRestore();
    s.next(T0 + 36 * MIN); // a successful write replaces the in-memory copy
    expect(new Sessions(30 * MIN, 24 * HOUR).current(T0 + 36 * MIN).id).toBe(a.id);
  });
});
