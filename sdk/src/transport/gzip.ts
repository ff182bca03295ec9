/** gzip through CompressionStream; undefined where the browser has none or it fails. */
export async function gzip(data: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    // From a Response, not a Blob: creating a Blob costs Chrome about a millisecond of main thread.
    const stream = new Response(data as BodyInit).body!.pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return undefined;
  }
}
