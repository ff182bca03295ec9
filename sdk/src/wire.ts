// Protobuf binary encoder driven by the field tables that scripts/protoc-gen-wire.mjs generates
// into gen/gosight/wire.ts. Field kinds: 0 varint (ints, enums, bools), 1 string, 2 bytes,
// 3 float, 4 double, 5 message, 6 map<string, string>; +8 marks a repeated field.
export type Table = readonly (readonly [no: number, name: string, kind: number, sub?: Table])[];

type Out = number[];

const utf8 = new TextEncoder();

export function encode(table: Table, msg: object): Uint8Array {
  const out: Out = [];
  message(out, table, msg);
  return new Uint8Array(out);
}

function message(out: Out, table: Table, msg: object): void {
  for (const [no, name, kind, sub] of table) {
    const v = (msg as Record<string, unknown>)[name];
    if (v == null) continue;
    if (kind & 8) for (const x of v as unknown[]) field(out, no, kind & 7, x, sub, true);
    else field(out, no, kind, v, sub, false);
  }
}

// `always` is set for elements of repeated fields, which are written even when empty.
function field(out: Out, no: number, kind: number, v: unknown, sub: Table | undefined, always: boolean): void {
  switch (kind) {
    case 0: {
      const n = Math.round(Number(v));
      if (n) varint(out, no << 3), varint(out, n);
      return;
    }
    case 1:
      if (v || always) varint(out, (no << 3) | 2), bytes(out, utf8.encode(v as string));
      return;
    case 2:
      if ((v as Uint8Array).length) varint(out, (no << 3) | 2), bytes(out, v as Uint8Array);
      return;
    case 3:
    case 4:
      if (v) varint(out, (no << 3) | (kind === 3 ? 5 : 1)), fixed(out, v as number, kind === 3);
      return;
    case 5:
      varint(out, (no << 3) | 2), bytes(out, encode(sub!, v as object));
      return;
    case 6:
      for (const [key, value] of Object.entries(v as Record<string, string>)) {
        const entry: Out = []; // key and value are written even when empty, as protoc does
        field(entry, 1, 1, key, undefined, true);
        field(entry, 2, 1, value, undefined, true);
        varint(out, (no << 3) | 2), bytes(out, entry);
      }
  }
}

// Varint of an integer in [-2^63, 2^53]; negative numbers take ten bytes (two's complement).
function varint(out: Out, n: number): void {
  let lo = n >>> 0;
  let hi = Math.floor(n / 4294967296) >>> 0;
  while (hi || lo > 127) {
    out.push((lo & 127) | 128);
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  out.push(lo);
}

function bytes(out: Out, b: ArrayLike<number>): void {
  varint(out, b.length);
  for (let i = 0; i < b.length; i++) out.push(b[i]!);
}

function fixed(out: Out, v: number, float: boolean): void {
  const view = new DataView(new ArrayBuffer(8));
  if (float) view.setFloat32(0, v, true);
  else view.setFloat64(0, v, true);
  for (let i = 0; i < (float ? 4 : 8); i++) out.push(view.getUint8(i));
}
