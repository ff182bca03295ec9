// The insight types the processor detects, as the dashboard names them.

export const INSIGHT_TYPES = ["rage_click", "dead_click", "error_click", "thrashed_cursor", "excessive_scrolling", "quick_back"] as const;

export const INSIGHT_LABEL: Record<string, string> = {
  rage_click: "Rage click",
  dead_click: "Dead click",
  error_click: "Error click",
  thrashed_cursor: "Thrashed cursor",
  excessive_scrolling: "Excessive scrolling",
  quick_back: "Quick back",
};

export const INSIGHT_HELP: Record<string, string> = {
  rage_click: "Many fast clicks on one spot: something looked clickable and did not answer.",
  dead_click: "A click after which nothing changed: no navigation, DOM change, scroll or focus.",
  error_click: "A click followed at once by a JavaScript error.",
  thrashed_cursor: "The pointer moved fast back and forth: confusion or a search for something.",
  excessive_scrolling: "Scrolling up and down repeatedly on one page: content hard to find.",
  quick_back: "Back to the previous page within seconds: the page was not what was expected.",
};

export const insightLabel = (type: string) => INSIGHT_LABEL[type] ?? type.replace(/_/g, " ");

/** The badge colour of an insight type. */
export function insightBadge(type: string): "rage" | "dead" | "error" | "info" {
  if (type === "rage_click") return "rage";
  if (type === "dead_click") return "dead";
  if (type === "error_click") return "error";
  return "info";
}
