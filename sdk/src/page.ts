import type { Device, Page } from "./gen/gosight/wire";

/** Removes all query parameters (`strip` true) or the named ones. */
export function stripQuery(url: string, strip: boolean | string[]): string {
  if (!url || strip === false || (Array.isArray(strip) && !strip.length)) return url;
  try {
    const u = new URL(url, location.href);
    if (strip === true) u.search = "";
    else for (const name of strip) u.searchParams.delete(name);
    return u.href;
  } catch {
    return url;
  }
}

export function currentPage(strip: boolean | string[]): Page {
  return {
    url: stripQuery(location.href, strip),
    path: location.pathname,
    title: document.title,
    referrer: stripQuery(document.referrer, strip),
  };
}

export const viewport = () => ({ viewportWidth: innerWidth, viewportHeight: innerHeight });

let fixed: Device | undefined;

export function device(): Device {
  if (!fixed) {
    let timezone = "";
    try {
      timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; // slow: once per page
    } catch {}
    fixed = {
      userAgent: navigator.userAgent,
      screenWidth: screen.width,
      screenHeight: screen.height,
      language: navigator.language,
      timezone,
      touch: navigator.maxTouchPoints > 0,
    };
  }
  return { ...fixed, ...viewport(), devicePixelRatio };
}
