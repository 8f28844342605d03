/**
 * The programs a shell command runs, read off its text before anything runs,
 * so that `sh()` can declare exactly the `run` permission the command needs
 * and `--dry-run` can show it. The syntax is dax's (the `deno task` family):
 * `&&`, `||`, `|`, `;`, `( )`, `$( )`, redirects, quotes and `NAME=value`
 * prefixes. dax's own builtins (`cd`, `echo`, `rm`, ...) run inside Deno and
 * are not programs.
 *
 * This is a reader of command positions, not a shell: the command itself is
 * parsed and run by dax in the shell process.
 *
 * @module
 */

/** dax 0.44's builtin commands: they run in the shell process, under its Deno permissions. */
export const BUILTINS: ReadonlySet<string> = new Set([
  "cd",
  "printenv",
  "echo",
  "cat",
  "exit",
  "export",
  "sleep",
  "test",
  "rm",
  "mkdir",
  "cp",
  "mv",
  "pwd",
  "touch",
  "unset",
  "which",
]);

/** What {@linkcode commandPrograms} found. */
export interface CommandPrograms {
  /** The programs, in order of first appearance, without duplicates. */
  programs: string[];
  /** Command words that are not known before the command runs (`$TOOL build`). */
  unknown: string[];
  /** Whether the command puts something in the background with a lone `&`. */
  background: boolean;
  /** The builtins it uses (they act under the shell's Deno permissions). */
  builtins: string[];
}

const SEPARATORS = new Set(["&&", "||", "|", "|&", ";", "&", "(", ")", "\n", "$(", "!"]);
const REDIRECTS = /^\d*(?:>>|>|<|&>>|&>|>&|<&)$/;

/**
 * The programs that a command runs, in the order they appear.
 *
 * @param command The command text.
 * @returns The programs, the words that cannot be known up front, and
 * whether a lone `&` appears.
 */
export function commandPrograms(command: string): CommandPrograms {
  const programs = new Set<string>();
  const unknown = new Set<string>();
  const builtins = new Set<string>();
  let background = false;
  let atStart = true;
  let skipNext = false;
  // The state around each open `$(`, restored at its `)`.
  const outer: boolean[] = [];
  for (const token of tokenize(command)) {
    if (token.kind === "op") {
      if (token.text === "&") background = true;
      if (token.text === "$(") {
        if (atStart) unknown.add("$(...)");
        outer.push(atStart);
        atStart = true;
        skipNext = false;
      } else if (token.text === ")" && outer.length > 0) {
        outer.pop();
        atStart = false;
        skipNext = false;
      } else if (token.text === "(") {
        outer.push(true);
        atStart = true;
      } else if (SEPARATORS.has(token.text)) {
        atStart = true;
        skipNext = false;
      } else if (REDIRECTS.test(token.text)) skipNext = true;
      continue;
    }
    if (skipNext) {
      skipNext = false;
      continue;
    }
    if (!atStart) continue;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(token.text) && !token.quotedStart) continue;
    atStart = false;
    if (token.expands) unknown.add(token.raw);
    else if (BUILTINS.has(token.text)) builtins.add(token.text);
    else programs.add(token.text);
  }
  return { programs: [...programs], unknown: [...unknown], background, builtins: [...builtins] };
}

interface Token {
  kind: "word" | "op";
  /** The word with quotes removed. */
  text: string;
  /** The word as written. */
  raw: string;
  /** Holds an unquoted or double-quoted `$` expansion. */
  expands: boolean;
  /** Starts with a quote (so `"A=b"` is a word, not an assignment). */
  quotedStart: boolean;
}

function* tokenize(command: string): Generator<Token> {
  let i = 0;
  const n = command.length;
  while (i < n) {
    const c = command[i];
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < n && command[i] !== "\n") i++;
      continue;
    }
    const op = operatorAt(command, i);
    if (op !== undefined) {
      yield { kind: "op", text: op, raw: op, expands: false, quotedStart: false };
      i += op.length;
      continue;
    }
    const start = i;
    let text = "";
    let expands = false;
    while (i < n) {
      const ch = command[i];
      if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") break;
      if (ch !== "!" && operatorAt(command, i) !== undefined && !/^\d/.test(ch)) break;
      if (ch === "\\" && i + 1 < n) {
        text += command[i + 1];
        i += 2;
      } else if (ch === "'") {
        const end = command.indexOf("'", i + 1);
        const stop = end === -1 ? n : end;
        text += command.slice(i + 1, stop);
        i = stop + 1;
      } else if (ch === '"') {
        i++;
        while (i < n && command[i] !== '"') {
          if (command[i] === "\\" && i + 1 < n) i++;
          if (command[i] === "$") expands = true;
          text += command[i++];
        }
        i++;
      } else {
        if (ch === "$") {
          if (command[i + 1] === "(") break;
          expands = true;
        }
        text += ch;
        i++;
      }
    }
    const raw = command.slice(start, i);
    yield { kind: "word", text, raw, expands, quotedStart: raw[0] === "'" || raw[0] === '"' };
  }
}

/** The operator at `i`, if one starts there; digits lead only redirects (`2>`). */
function operatorAt(command: string, i: number): string | undefined {
  const rest = command.slice(i, i + 4);
  const redirect = rest.match(/^\d*(?:&>>|>>|&>|>&|<&|>|<)/);
  if (redirect !== null) return redirect[0];
  for (const op of ["$(", "&&", "||", "|&", "|", ";", "&", "(", ")", "\n", "!"]) {
    if (rest.startsWith(op)) {
      // `!` negates only as a word of its own.
      if (op === "!" && !/^!(?:\s|$)/.test(rest)) continue;
      return op;
    }
  }
  return undefined;
}
