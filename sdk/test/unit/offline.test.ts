import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { OfflineQueue } from "../../src/transport/offline";
import { batchItem, firstIds as ids } from "./helpers";

describe("OfflineQueue", () => {
  afterEach(async () => {
    localStorage.clear();
    await new Promise((r) => (indexedDB.deleteDatabase("gosight").onsuccess = r));
  });

  it("keeps requests in IndexedDB across instances (page loads) and hands each out once", async () => {
    await new OfflineQueue(10).put([batchItem("a"), batchItem("b")]);
    const later = new OfflineQueue(10);
    const [first, second] = await Promise.all([later.takeAll(), new OfflineQueue(10).takeAll()]);
    expect([...ids(first), ...ids(second)].sort()).toEqual(["a", "b"]);
    expect(await later.takeAll()).toEqual([]);
  });

  it("drops the oldest beyond the limit and counts them", async () => {
    const q = new OfflineQueue(3);
    await q.put([batchItem("1"), batchItem("2")]);
    await q.put([batchItem("3"), batchItem("4"), batchItem("5")]);
    await q.put([batchItem("6")]);
    expect(ids(await q.takeAll())).toEqual(["4", "5", "6"]);
    expect(q.takeDropped()).toBe(3);
    expect(q.takeDropped()).toBe(0);
  });

  it("falls back to a bounded in-memory queue without IndexedDB", async () => {
    const idb = globalThis.indexedDB;
    // @ts-expect-error simulate a browser without IndexedDB
    delete globalThis.indexedDB;
    try {
      const q = new OfflineQueue(2);
      await q.put([batchItem("1"), batchItem("2"), batchItem("3")]);
      expect(ids(await q.takeAll())).toEqual(["2", "3"]);
      expect(q.takeDropped()).toBe(1);
    } finally {
      globalThis.indexedDB = idb;
    }
  });
});
