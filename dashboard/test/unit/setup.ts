// Component tests run in happy-dom, which has no 2D canvas: charts draw into a context (and
// paths) that accept every call and draw nothing, which is enough for uPlot to build its DOM.
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

const noop2d = new Proxy({} as CanvasRenderingContext2D, {
  get: (_, key) => (key === "measureText" ? () => ({ width: 10 }) : key === "canvas" ? document.createElement("canvas") : () => undefined),
  set: () => true,
});
HTMLCanvasElement.prototype.getContext = (() => noop2d) as unknown as HTMLCanvasElement["getContext"];
// Paths too: every method accepted, nothing drawn.
globalThis.Path2D ??= class {
  constructor() {
    return new Proxy(this, { get: () => () => undefined });
  }
} as unknown as typeof Path2D;

afterEach(() => {
  cleanup();
  localStorage.clear();
  sessionStorage.clear();
  vi.unstubAllGlobals();
  history.replaceState(null, "", "/");
});
