/** The recorder as its own chunk; the script-tag build swaps this module for load-script.ts. */
export const loadRecorder = (_url: string) => import("./recorder");
