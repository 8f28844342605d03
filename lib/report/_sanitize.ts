/**
 * Makes task-supplied text safe to print on a terminal. A task's output, its
 * error messages and stacks, and the paths it declares come from code the
 * user may not trust; printed raw, an escape sequence in them could set the
 * window title (OSC 0/2), write the clipboard (OSC 52), move the cursor and
 * erase lines (CSI A, CSI K), or overwrite a line with a forged `ok` line
 * (a lone `\r`). Every reporter passes such text through here first.
 *
 * Control characters are shown, not dropped, so that the reader still sees
 * that something was there: ESC becomes the four characters `\x1b`, the C1
 * CSI becomes `\u009b`.
 *
 * @module
 */

// C0 controls but tab and newline, DEL, C1 controls, and the bidi embedding,
// override and isolate controls (which reorder what follows them: a name or a
// status can be made to read backwards).
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "g");
// The same and newline, for text that must stay on one line.
// deno-lint-ignore no-control-regex -- as above
const UNSAFE_IN_LINE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_IN_LINE_ALL = new RegExp(UNSAFE_IN_LINE.source, "g");

/**
 * Text with every control character that a terminal would act on made
 * visible: C0 controls other than tab and newline (ESC, `\r`, backspace,
 * ...), DEL and C1 controls become `\xNN` / `\u00NN`, and bidi overrides and
 * isolates become `\uNNNN`. Text without them is returned as it is.
 *
 * @param text Text a task supplied: an output line, an error message or
 * stack, a declared path.
 * @returns The text, safe to write to a terminal or a log: for example
 * `"\x1b]52;c;aGk=\x07"` (a clipboard write) comes back as the printable
 * `\x1b]52;c;aGk=\x07`.
 */
export function safeText(text: string): string {
  // One test first: almost every line has nothing to escape.
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, visible) : text;
}

/**
 * {@linkcode safeText} for text that must stay on one line (the message on
 * a `FAIL` line, a path in a table): newlines are made visible too, so the
 * text cannot start a line of its own.
 *
 * @param text Text a task supplied.
 * @returns The text on one line, safe to write to a terminal or a log.
 */
export function safeLine(text: string): string {
  return UNSAFE_IN_LINE.test(text) ? text.replace(UNSAFE_IN_LINE_ALL, visible) : text;
}

function visible(char: string): string {
  const code = char.charCodeAt(0);
  if (code === 0x0a) return "\\n";
  if (code === 0x0d) return "\\r";
  if (code === 0x09) return "\\t";
  const hex = code.toString(16).padStart(2, "0");
  return code < 0x80 ? `\\x${hex}` : `\\u${hex.padStart(4, "0")}`;
}

// What JSON.stringify leaves raw that a terminal may act on: DEL, C1
// controls (U+009B is a CSI), bidi overrides and isolates.
const UNSAFE_IN_JSON = /[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_IN_JSON_ALL = new RegExp(UNSAFE_IN_JSON.source, "g");

/**
 * JSON text made safe to print on a terminal with the same meaning:
 * `JSON.stringify` escapes C0 controls but leaves DEL, C1 controls and bidi
 * overrides raw; these become `\u009b`-style escapes, which parse back to
 * the same string.
 *
 * @param json Text from `JSON.stringify`.
 * @returns The same JSON value, with no raw control character.
 */
export function safeJson(json: string): string {
  return UNSAFE_IN_JSON.test(json)
    ? json.replace(
      UNSAFE_IN_JSON_ALL,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
    )
    : json;
}
