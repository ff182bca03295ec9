import { useEffect, useImperativeHandle, useRef, useState, type Ref } from "react";
import { Replayer } from "rrweb";
import "rrweb/dist/style.css";
import { fmtClock } from "../format";
import { EventType, type RrwebEvent } from "./decode";

export type MarkerKind = "click" | "error" | "rage" | "dead" | "page" | "other";

export interface Marker {
  /** ms since the replay's first event */
  offset: number;
  kind: MarkerKind;
  label: string;
}

export interface PlayerHandle {
  seek(offset: number): void;
  currentTime(): number;
}

export const SPEEDS = [1, 2, 4, 8] as const;

interface Props {
  events: RrwebEvent[];
  /** Every chunk has arrived (a live replay keeps growing). */
  complete: boolean;
  live?: boolean;
  markers: Marker[];
  /** Where to start (`?t=`), ms since the first event. */
  initialTime?: number;
  onTime?: (offset: number) => void;
  handle?: Ref<PlayerHandle>;
}

const canStart = (events: RrwebEvent[]) => events.length >= 2 && events.some((e) => e.type === EventType.FullSnapshot);

/** ms from the first to the last event (`events` sorted by time). */
export const spanOf = (events: RrwebEvent[]) => (events.length ? events[events.length - 1]!.timestamp - events[0]!.timestamp : 0);

/**
 * The earliest moment that shows a page: just after the first full snapshot (the replayer applies
 * at once only events before the moment it is sent to, and before that snapshot it has no page).
 */
export function snapshotStart(events: RrwebEvent[]): number {
  const full = events.find((e) => e.type === EventType.FullSnapshot);
  return full && events.length ? full.timestamp - events[0]!.timestamp + 1 : 0;
}

/** The rrweb Replayer with play/pause, speed, skip-inactivity and a marked, seekable timeline. */
export function Player({ events, complete, live = false, markers, initialTime, onTime, handle }: Props) {
  const stage = useRef<HTMLDivElement>(null);
  const root = useRef<HTMLDivElement>(null);
  const replayer = useRef<Replayer | null>(null);
  const added = useRef(0);
  const pendingSeek = useRef<number | undefined>(initialTime);
  // The replayer's clock means something only while it plays; paused, `time` is where it stopped.
  const playingRef = useRef(false);
  const [ready, setReady] = useState(false);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState<number>(1);
  const [skip, setSkip] = useState(true);
  const [time, setTime] = useState(0);
  const [skipping, setSkipping] = useState(false);
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  const [scale, setScale] = useState(1);
  const total = spanOf(events);
  const totalRef = useRef(total);
  totalRef.current = total;

  const setPlayingBoth = (p: boolean) => {
    playingRef.current = p;
    setPlaying(p);
  };

  // Create the replayer once there is a full snapshot; feed it every later event.
  useEffect(() => {
    const r = replayer.current;
    if (!r) {
      if (!root.current || !canStart(events)) return;
      const created = new Replayer(live ? [] : events.slice(), {
        root: root.current,
        skipInactive: skip,
        speed,
        showWarning: false,
        mouseTail: { strokeStyle: "#e5484d", lineWidth: 2, duration: 800 },
        liveMode: live,
        triggerFocus: false,
        UNSAFE_replayCanvas: false,
        insertStyleRules: ["*[data-gosight-block]{background:repeating-linear-gradient(45deg,#ccc 0 6px,#eee 6px 12px)}"],
      });
      created.on("resize", (d) => setSize(d as { width: number; height: number }));
      created.on("finish", () => {
        setPlayingBoth(false);
        setTime(totalRef.current);
      });
      created.on("skip-start", () => setSkipping(true));
      created.on("skip-end", () => setSkipping(false));
      created.disableInteract();
      replayer.current = created;
      if (live) {
        // What has happened so far is applied at once; what arrives later plays as it comes.
        created.startLive(events[events.length - 1]!.timestamp);
        for (const e of events) created.addEvent(e);
      }
      added.current = events.length;
      setReady(true);
      return;
    }
    if (events.length > added.current) {
      for (const e of events.slice(added.current)) r.addEvent(e);
      added.current = events.length;
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [events, live]);

  useEffect(() => () => replayer.current?.destroy(), []);

  // A requested start time, once the replay reaches that far (or is complete); else the start.
  useEffect(() => {
    const r = replayer.current;
    if (!r || !ready || live) return;
    const t = pendingSeek.current;
    if (t === undefined) return;
    if (total >= t || complete) {
      pendingSeek.current = undefined;
      const at = Math.max(snapshotStart(events), Math.min(t, total));
      r.pause(at);
      setTime(at);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ready, total, complete, live]);

  // Current time while playing.
  useEffect(() => {
    if (!ready || live) return;
    let frame = 0;
    let last = -1;
    const tick = () => {
      const r = replayer.current;
      if (r && playingRef.current) {
        const t = Math.max(0, Math.min(totalRef.current, r.getCurrentTime()));
        if (Math.abs(t - last) >= 100) {
          last = t;
          setTime(t);
          onTime?.(t);
        }
      }
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [ready, live, onTime]);

  // Fit the recorded viewport into the stage.
  useEffect(() => {
    const el = stage.current;
    if (!el || !size) return;
    const fit = () => setScale(Math.min(1, el.clientWidth / size.width, (el.clientHeight || size.height) / size.height));
    fit();
    const ro = new ResizeObserver(fit);
    ro.observe(el);
    return () => ro.disconnect();
  }, [size]);

  useEffect(() => replayer.current?.setConfig({ speed }), [speed]);
  useEffect(() => replayer.current?.setConfig({ skipInactive: skip }), [skip]);

  const seek = (offset: number) => {
    const r = replayer.current;
    if (!r || live) return;
    // Before the first full snapshot the replayer has no page to rebuild, and would keep the old one.
    const t = Math.max(snapshotStart(events), Math.min(offset, total));
    if (playingRef.current) r.play(t);
    else r.pause(t);
    setTime(t);
    onTime?.(t);
  };
  const toggle = () => {
    const r = replayer.current;
    if (!r || live) return;
    if (playingRef.current) {
      const t = Math.max(0, Math.min(total, r.getCurrentTime()));
      r.pause();
      setPlayingBoth(false);
      setTime(t);
    } else {
      r.play(time >= total - 50 ? 0 : time);
      setPlayingBoth(true);
    }
  };

  useImperativeHandle(handle, () => ({ seek, currentTime: () => time }));

  useEffect(() => {
    const f = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName) || t.isContentEditable)) return;
      if (e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === " " || e.key === "k") {
        e.preventDefault();
        toggle();
      } else if (e.key === "ArrowLeft") {
        e.preventDefault();
        seek(time - 5000);
      } else if (e.key === "ArrowRight") {
        e.preventDefault();
        seek(time + 5000);
      } else if (["1", "2", "3", "4"].includes(e.key)) setSpeed(SPEEDS[Number(e.key) - 1]!);
    };
    window.addEventListener("keydown", f);
    return () => window.removeEventListener("keydown", f);
  });

  // A live replay is always at its newest moment.
  const shown = live ? total : time;
  const pct = (offset: number) => (total > 0 ? Math.max(0, Math.min(100, (offset / total) * 100)) : 0);
  const timelineClick = (e: React.MouseEvent<HTMLDivElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    seek(((e.clientX - rect.left) / rect.width) * total);
  };

  return (
    <div className="player">
      <div className="stage" ref={stage} style={size ? { height: Math.min(size.height, Math.max(320, (stage.current?.clientWidth ?? size.width) * (size.height / size.width))) } : undefined}>
        <div
          className="stage-inner"
          style={size ? { width: size.width * scale, height: size.height * scale } : undefined}
        >
          <div ref={root} className="replay-root" style={size ? { transform: `scale(${scale})`, width: size.width, height: size.height } : undefined} />
        </div>
        {!ready && <div className="stage-msg">{complete ? "No full page snapshot in this replay." : "Loading the replay…"}</div>}
        {skipping && <div className="stage-badge">Skipping inactivity…</div>}
        {live && ready && <div className="stage-badge live-badge">● Live</div>}
      </div>
      <div className="controls">
        <button type="button" className="play" onClick={toggle} disabled={!ready || live} aria-label={playing ? "Pause" : "Play"} title="Play / pause (space)">
          {playing ? "❚❚" : "▶"}
        </button>
        <span className="clock" data-testid="clock">
          {fmtClock(shown)} / {fmtClock(total)}
        </span>
        <div
          className="timeline"
          role="slider"
          tabIndex={0}
          aria-label="Replay position"
          aria-valuemin={0}
          aria-valuemax={Math.round(total)}
          aria-valuenow={Math.round(shown)}
          aria-valuetext={fmtClock(shown)}
          onClick={timelineClick}
          onKeyDown={(e) => {
            if (e.key === "Home") seek(0);
            if (e.key === "End") seek(total);
          }}
        >
          <div className="timeline-fill" style={{ width: `${pct(shown)}%` }} />
          {markers.map((m, i) => (
            <span key={i} className={`marker marker-${m.kind}`} style={{ left: `${pct(m.offset)}%` }} title={`${fmtClock(m.offset)} ${m.label}`} />
          ))}
          <div className="timeline-head" style={{ left: `${pct(shown)}%` }} />
        </div>
        <label className="speed">
          <span className="sr-only">Speed</span>
          <select aria-label="Speed" value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
        </label>
        <label className="check" title="Skip periods without activity">
          <input type="checkbox" checked={skip} onChange={(e) => setSkip(e.target.checked)} />
          Skip inactivity
        </label>
      </div>
      <div className="legend small muted">
        <span className="marker-key marker-click" /> click <span className="marker-key marker-page" /> page <span className="marker-key marker-error" /> error <span className="marker-key marker-rage" /> rage click <span className="marker-key marker-dead" /> dead click
      </div>
    </div>
  );
}
