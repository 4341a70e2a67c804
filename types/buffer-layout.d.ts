// Minimal typings for the untyped `buffer-layout` package: only what usbms uses.
// Typed access goes through src/util/layout.ts, never through these raw declarations.
declare module 'buffer-layout' {
  export class Layout<T = unknown> {
    span: number;
    property?: string;
    decode(b: Uint8Array, offset?: number): T;
    encode(src: T, b: Uint8Array, offset?: number): number;
    getSpan(b?: Uint8Array, offset?: number): number;
  }
  export class Structure<T = Record<string, unknown>> extends Layout<T> {
    fields: Layout[];
  }
  export function u8(property?: string): Layout<number>;
  export function u16(property?: string): Layout<number>;
  export function u24(property?: string): Layout<number>;
  export function u32(property?: string): Layout<number>;
  export function u16be(property?: string): Layout<number>;
  export function u24be(property?: string): Layout<number>;
  export function u32be(property?: string): Layout<number>;
  export function s8(property?: string): Layout<number>;
  export function blob(length: number, property?: string): Layout<Uint8Array>;
  export function struct<T = Record<string, unknown>>(fields: Layout[], property?: string): Structure<T>;
  export function seq<T>(element: Layout<T>, count: number, property?: string): Layout<T[]>;
  const _default: {
    u8: typeof u8; u16: typeof u16; u24: typeof u24; u32: typeof u32;
    u16be: typeof u16be; u24be: typeof u24be; u32be: typeof u32be; s8: typeof s8;
    blob: typeof blob; struct: typeof struct; seq: typeof seq;
  };
  export default _default;
}
