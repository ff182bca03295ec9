import { storage } from "../util";
import type { Item } from "./http";

const DB = "gosight";
const STORE = "queue";
const DROPPED = "gosight_dropped";

const done = (tx: IDBTransaction) =>
  new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error);
  });

/**
 * Requests kept for later in IndexedDB (in memory where IndexedDB is unavailable), at most
 * `limit`; beyond it the oldest are dropped and counted.
 */
export class OfflineQueue {
  private db: Promise<IDBDatabase | undefined>;
  private memory: Item[] = [];

  constructor(private limit: number) {
    this.db = new Promise((resolve) => {
      try {
        const req = indexedDB.open(DB, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE, { autoIncrement: true });
        req.onsuccess = () => {
          req.result.onversionchange = () => req.result.close(); // never block a newer version or a deletion
          resolve(req.result);
        };
        req.onerror = req.onblocked = () => resolve(undefined);
      } catch {
        resolve(undefined);
      }
    });
  }

  async put(items: Item[]): Promise<void> {
    if (!items.length) return;
    const db = await this.db;
    if (!db) {
      this.memory.push(...items);
      this.drop(this.memory.splice(0, Math.max(0, this.memory.length - this.limit)).length);
      return;
    }
    try {
      const tx = db.transaction(STORE, "readwrite");
      const store = tx.objectStore(STORE);
      for (const item of items) store.add({ ...item, sending: false });
      store.count().onsuccess = (e) => {
        let extra = (e.target as IDBRequest<number>).result - this.limit;
        if (extra <= 0) return;
        this.drop(extra);
        store.openCursor().onsuccess = (c) => {
          const cursor = (c.target as IDBRequest<IDBCursorWithValue | null>).result;
          if (cursor && extra-- > 0) cursor.delete(), cursor.continue();
        };
      };
      await done(tx);
    } catch {
      this.drop(items.length);
    }
  }

  /** Removes and returns everything queued, oldest first, atomically across tabs. */
  async takeAll(): Promise<Item[]> {
    const db = await this.db;
    if (!db) return this.memory.splice(0);
    const tx = db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    const all = store.getAll();
    store.clear();
    await done(tx);
    return all.result as Item[];
  }

  /** How many requests were dropped since the last call. */
  takeDropped(): number {
    const n = storage.get<number>(DROPPED) ?? 0;
    if (n) storage.set(DROPPED, 0);
    return n;
  }

  private drop(n: number): void {
    if (n > 0) storage.set(DROPPED, (storage.get<number>(DROPPED) ?? 0) + n);
  }
}
