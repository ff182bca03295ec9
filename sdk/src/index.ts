export { getSessionId, identify, init, setConsent, stop, track } from "./client";
export type { Consent } from "./client";
export type { Options, ReplayMode } from "./config";
