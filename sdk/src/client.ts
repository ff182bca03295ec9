// The public API. Every entry point is wrapped in safe(): the SDK never throws into the page.
import { captureClicks } from "./capture/click";
import { captureConsole } from "./capture/console";
import { captureErrors } from "./capture/errors";
import { captureInputs } from "./capture/input";
import { captureMouse } from "./capture/mouse";
import { captureNetwork } from "./capture/network";
import { capturePageLoad } from "./capture/pageload";
import { capturePageViews } from "./capture/pageview";
import { captureScroll } from "./capture/scroll";
import { captureVisibility } from "./capture/visibility";
import { captureVitals } from "./capture/vitals";
import { type Config, type Options, resolve } from "./config";
import { EVENT_TYPE_CUSTOM } from "./gen/gosight/wire";
import { device } from "./page";
import { ReplayController } from "./replay/controller";
import { Sessions } from "./session";
import { Tracker } from "./tracker";
import { Batcher } from "./transport/batcher";
import { Delivery } from "./transport/delivery";
import { OfflineQueue } from "./transport/offline";
import { cut, on, safe, setDebug, storage, toText, uuid } from "./util";
import { VERSION } from "./version";

export type Consent = boolean | { analytics: boolean; replay?: boolean };
type Properties = Record<string, unknown>;
interface User {
  id: string;
  traits: Record<string, string>;
}
interface Running {
  sessions: Sessions;
  tracker: Tracker;
  batcher: Batcher;
  replay: ReplayController;
  undo: (() => void)[];
}

const USER = "gosight_user";
const ANONYMOUS_ID = "gosight_anon";

let cfg: Config | undefined;
let run: Running | undefined;
let consent = { given: false, analytics: false, replay: false };
let user: User | undefined;

const strings = (props: Properties = {}): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) if (v != null) out[cut(k, 200)] = cut(toText(v), 1000);
  return out;
};

const doNotTrack = (): boolean =>
  navigator.doNotTrack === "1" || (window as { doNotTrack?: string }).doNotTrack === "1" || (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl === true;

function start(c: Config): void {
  const store = new OfflineQueue(c.offlineQueueLimit);
  const delivery = new Delivery(c, store, window.fetch.bind(window)); // the page's fetch before captureNetwork wraps it
  let anonymousId = storage.get<string>(ANONYMOUS_ID);
  if (!anonymousId) storage.set(ANONYMOUS_ID, (anonymousId = uuid()));
  user ??= storage.get<User>(USER);
  if (user) storage.set(USER, user);

  const batcher = new Batcher(
    c.batchSize,
    c.flushInterval,
    c.projectKey,
    (s) => ({
      sessionId: s.id,
      userId: user?.id,
      anonymousId,
      device: device(),
      startedAt: { unixMs: s.start },
      sdkVersion: VERSION,
      userTraits: user?.traits,
    }),
    (item) => delivery.push(item),
  );
  const sessions = new Sessions(c.sessionTimeout, c.sessionMaxDuration, () => r.replay.sessionChanged());
  const tracker = new Tracker(c, sessions, batcher);
  const r: Running = { sessions, tracker, batcher, replay: new ReplayController(c, sessions, tracker, (i) => delivery.push(i)), undo: [] };
  run = r;

  const captures = [captureErrors, capturePageViews, captureClicks, captureScroll, captureInputs, captureMouse, captureVisibility, captureNetwork, capturePageLoad, captureVitals];
  if (c.captureConsoleErrors) captures.push(captureConsole);
  for (const capture of captures) r.undo.push(safe(capture)(tracker) ?? (() => {}));

  const reportDropped = () => {
    const count = store.takeDropped();
    if (count) tracker.emit(EVENT_TYPE_CUSTOM, { custom: { name: "$gosight_dropped", properties: { count: String(count) } } });
  };
  const drain = () => void delivery.drain().then(reportDropped, () => {});
  // Registered after the capture modules so that their own hide handlers (last mouse moves,
  // visibility, click outcomes) have queued their events when this one sends.
  const hide = () => {
    r.replay.flushNow();
    batcher.flush();
    delivery.hide();
  };
  r.undo.push(
    on(document, "visibilitychange", () => (document.visibilityState === "hidden" ? hide() : drain())),
    on(window, "pagehide", hide),
    on(window, "online", drain),
  );
  drain();
  if (!consent.given || consent.replay) r.replay.enable();
}

function halt(): void {
  if (!run) return;
  run.undo.forEach((f) => f());
  run.replay.stop();
  run.batcher.flush();
  run = undefined;
}

/** Starts capturing. Does nothing when already initialised, or when Do-Not-Track applies (respectDoNotTrack). */
export const init = safe((options: Options): void => {
  if (cfg) return;
  const c = resolve(options);
  setDebug(c.debug);
  if (c.respectDoNotTrack && doNotTrack()) return;
  cfg = c;
  if (consent.given ? consent.analytics : !c.requireConsent) start(c);
});

/** Attaches the session to a user of your own; traits are sent as strings. Kept across page loads. */
export const identify = safe((userId: string, traits?: Properties): void => {
  user = { id: String(userId), traits: strings(traits) };
  if (run) storage.set(USER, user);
});

/** Sends a custom event; property values are sent as strings (objects as JSON). */
export const track = safe((name: string, properties?: Properties): void => {
  run?.tracker.emit(EVENT_TYPE_CUSTOM, { custom: { name: cut(String(name), 200), properties: strings(properties) } });
});

/**
 * With requireConsent, nothing is captured until consent is granted; may be called before init().
 * `true` grants analytics and replay, `{ analytics: true, replay: false }` analytics only, `false`
 * stops capturing.
 */
export const setConsent = safe((granted: Consent): void => {
  const c = typeof granted === "boolean" ? { analytics: granted } : granted;
  consent = { given: true, analytics: !!c.analytics, replay: !!c.analytics && (c.replay ?? true) };
  if (!consent.analytics) return halt();
  if (!run) return cfg && start(cfg);
  if (consent.replay) run.replay.enable();
  else run.replay.stop();
});

/** Stops capturing and sends what is queued; init() may be called again afterwards. */
export const stop = safe((): void => {
  halt();
  cfg = undefined;
});

/** The current session's id, or "" before init(). */
export const getSessionId = (): string => safe(() => run?.sessions.current().id)() ?? "";
