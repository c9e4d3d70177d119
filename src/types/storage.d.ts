/**
 * The Web Storage interface Scrypted's device storage implements (@scrypted/sdk's types name the
 * DOM's `Storage`; this project compiles without the DOM library).
 */
interface Storage {
  readonly length: number;
  clear(): void;
  getItem(key: string): string | null;
  key(index: number): string | null;
  removeItem(key: string): void;
  setItem(key: string, value: string): void;
  [name: string]: unknown;
}
