/**
 * Validates a chunked response body (RFC 9112 7.1) as it streams, so the fast path can forward the bytes as they
 * are and still know exactly where the message ends. Strict: chunk sizes of 1–15 hex digits, extensions as
 * `;name[=token|"quoted"]` without whitespace (what llhttp's strict mode, and so node's HTTP client, accepts), CRLF
 * line ends, trailer fields as strict as header fields. Anything else is an error and the
 * response is cut (the connection to the backend is never reused after one).
 */

const CR = 13;
const LF = 10;

const S_SIZE = 0;
/** After `;`: an extension name must start. */
const S_EXT = 1;
const S_SIZE_LF = 2;
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_TRAILER_START = 6;
const S_TRAILER_NAME = 7;
const S_TRAILER_VALUE = 8;
const S_TRAILER_LF = 9;
const S_FINAL_LF = 10;
const S_DONE = 11;
const S_EXT_NAME = 12;
const S_EXT_VALUE_START = 13;
const S_EXT_TOKEN = 14;
const S_EXT_QUOTED = 15;
const S_EXT_QUOTED_ESCAPE = 16;
const S_EXT_QUOTED_END = 17;

/** Largest total of trailer bytes accepted. */
const MAX_TRAILER_BYTES = 16 * 1024;

/** RFC 9110 tchar, for trailer field names. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

export const CHUNKED_MORE = -1;
export const CHUNKED_ERROR = -2;

export class ChunkedScanner {
  #state = S_SIZE;
  #digits = 0;
  #size = 0;
  #trailerBytes = 0;

  get done(): boolean {
    return this.#state === S_DONE;
  }

  /**
   * Scans `buf` from `start`. Returns the offset just past the end of the message when it ends inside `buf`,
   * CHUNKED_MORE when all of `buf` belongs to the body and more is to come, CHUNKED_ERROR on malformed framing.
   */
  scan(buf: Buffer, start: number): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.#state) {
        case S_DATA: {
          const take = Math.min(this.#size, n - i);
          this.#size -= take;
          i += take;
          if (this.#size === 0) this.#state = S_DATA_CR;
          continue;
        }
        case S_SIZE: {
          const c = buf[i] as number;
          const h = hexValue(c);
          if (h >= 0) {
            if (++this.#digits > 15) return CHUNKED_ERROR;
            this.#size = this.#size * 16 + h;
          } else if (this.#digits === 0) {
            return CHUNKED_ERROR;
          } else if (c === CR) {
            this.#state = S_SIZE_LF;
          } else if (c === 0x3b) {
            this.#state = S_EXT;
          } else {
            return CHUNKED_ERROR;
          }
          break;
        }
        case S_EXT:
          if (TCHAR[buf[i] as number] !== 1) return CHUNKED_ERROR;
          this.#state = S_EXT_NAME;
          break;
        case S_EXT_NAME:
        case S_EXT_TOKEN: {
          const c = buf[i] as number;
          if (c === CR) this.#state = S_SIZE_LF;
          else if (c === 0x3b) this.#state = S_EXT;
          else if (c === 0x3d && this.#state === S_EXT_NAME) this.#state = S_EXT_VALUE_START;
          else if (TCHAR[c] !== 1) return CHUNKED_ERROR;
          break;
        }
        case S_EXT_VALUE_START: {
          const c = buf[i] as number;
          if (c === 0x22) this.#state = S_EXT_QUOTED;
          else if (TCHAR[c] === 1) this.#state = S_EXT_TOKEN;
          else return CHUNKED_ERROR;
          break;
        }
        case S_EXT_QUOTED: {
          const c = buf[i] as number;
          if (c === 0x22) this.#state = S_EXT_QUOTED_END;
          else if (c === 0x5c) this.#state = S_EXT_QUOTED_ESCAPE;
          else if ((c < 0x20 && c !== 9) || c === 0x7f) return CHUNKED_ERROR;
          break;
        }
        case S_EXT_QUOTED_ESCAPE: {
          const c = buf[i] as number;
          if ((c < 0x20 && c !== 9) || c === 0x7f) return CHUNKED_ERROR;
          this.#state = S_EXT_QUOTED;
          break;
        }
        case S_EXT_QUOTED_END: {
          const c = buf[i] as number;
          if (c === CR) this.#state = S_SIZE_LF;
          else if (c === 0x3b) this.#state = S_EXT;
          else return CHUNKED_ERROR;
          break;
        }
        case S_SIZE_LF:
          if (buf[i] !== LF) return CHUNKED_ERROR;
          this.#digits = 0;
          this.#state = this.#size === 0 ? S_TRAILER_START : S_DATA;
          break;
        case S_DATA_CR:
          if (buf[i] !== CR) return CHUNKED_ERROR;
          this.#state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (buf[i] !== LF) return CHUNKED_ERROR;
          this.#state = S_SIZE;
          break;
        case S_TRAILER_START: {
          const c = buf[i] as number;
          if (c === CR) {
            this.#state = S_FINAL_LF;
          } else if (TCHAR[c] === 1) {
            this.#state = S_TRAILER_NAME;
          } else {
            return CHUNKED_ERROR;
          }
          break;
        }
        case S_TRAILER_NAME: {
          const c = buf[i] as number;
          if (c === 0x3a) this.#state = S_TRAILER_VALUE;
          else if (TCHAR[c] !== 1) return CHUNKED_ERROR;
          break;
        }
        case S_TRAILER_VALUE: {
          const c = buf[i] as number;
          if (c === CR) this.#state = S_TRAILER_LF;
          else if ((c < 0x20 && c !== 9) || c === 0x7f) return CHUNKED_ERROR;
          break;
        }
        case S_TRAILER_LF:
          if (buf[i] !== LF) return CHUNKED_ERROR;
          this.#state = S_TRAILER_START;
          break;
        case S_FINAL_LF:
          if (buf[i] !== LF) return CHUNKED_ERROR;
          this.#state = S_DONE;
          return i + 1;
        default:
          return CHUNKED_ERROR;
      }
      const s = this.#state;
      if (s >= S_TRAILER_START && s <= S_FINAL_LF && ++this.#trailerBytes > MAX_TRAILER_BYTES) return CHUNKED_ERROR;
      i++;
    }
    return CHUNKED_MORE;
  }
}
