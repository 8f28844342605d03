/**
 * The live reporter: a view of the run redrawn in place on a terminal
 * (elapsed time and counts, the running io tasks with their elapsed time,
 * each worker's task with shard progress) above which finished tasks and
 * task output scroll by, prefixed by the task's name. It stays within the
 * terminal's height however many tasks run at once, and is replaced by the
 * summary when the run ends.
 *
 * Drawing is log-update's, loaded here and nowhere else, and only when a
 * reporter is created, because it reads `TERM`, `TERM_PROGRAM` and `TMUX`
 * when imported: the CLI creates one only when those may be read.
 *
 * @module
 */

import type {
  Reporter,
  RunPlan,
  TaskOutputEvent,
  TaskProgressEvent,
  TaskRetryEvent,
  TaskStartEvent,
} from "./reporter.ts";
import { formatMs, type RunReport, type TaskReport } from "./report.ts";
import { type Palette, palette } from "./_ansi.ts";
import { lane, summaryBlock } from "./_summary.ts";
import type { TextSink } from "./plain.ts";
import { safeLine } from "./_sanitize.ts";

/** A terminal to draw on: text in, and its size when known. */
export interface LiveStream extends TextSink {
  /** Width in columns; 80 when unknown, or under 20 (a terminal that reports 0). */
  readonly columns?: number;
  /** Height in rows; 24 when unknown, or under 3. */
  readonly rows?: number;
}

/** Options for {@linkcode liveReporter}. */
export interface LiveReporterOptions {
  /** Where to draw. Default: the process's stderr, sized by `Deno.consoleSize()`. */
  stream?: LiveStream;
  /** Emit colours. Default `true`. */
  color?: boolean;
  /** How often the view is redrawn, in ms. Default 100. */
  refreshMs?: number;
}

/**
 * A live reporter. Writing to it puts text above the view (the CLI sends its
 * own messages there while a run is drawn). Closing it removes the view and
 * restores the cursor; `runEnd` closes it, and so does process exit.
 */
export interface LiveReporter extends Reporter, TextSink, Disposable {
  /** Stops redrawing, erases the view, shows the cursor. Idempotent. */
  close(): void;
}

/** One running task, as the view shows it. */
export interface RunningTask {
  /** The task's name. */
  name: string;
  /** Its lane. */
  kind: "io" | "cpu";
  /** How long it has run, in ms. */
  elapsedMs: number;
  /** Progress, for a task that reports it. */
  done?: number;
  /** Out of how many. */
  total?: number;
}

/** What one frame of the view shows. */
export interface FrameState {
  /** Time since the run started, in ms. */
  elapsedMs: number;
  /** Tasks in the plan. */
  total: number;
  /** Tasks that ended, by how. */
  counts: { ok: number; cached?: number; failed: number; skipped: number; cancelled: number };
  /** Running tasks, in the order they started. */
  running: RunningTask[];
  /** Each worker's task name, `undefined` when idle. */
  workers: (string | undefined)[];
}

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
const CURSOR_HIDE = "\x1b[?25l";
const CURSOR_SHOW = "\x1b[?25h";

/**
 * Creates a live reporter, loading the terminal-rendering library.
 *
 * @param options Where to draw, colours, refresh rate.
 * @returns The reporter; give it to `run()`.
 * @throws {Deno.errors.NotCapable} When env access to `TERM`,
 * `TERM_PROGRAM` or `TMUX` is not granted (the library reads them).
 */
export async function liveReporter(options: LiveReporterOptions = {}): Promise<LiveReporter> {
  const { createLogUpdate } = await import("npm:log-update@^8.0.0");
  const stream = sized(options.stream ?? stderrStream());
  // The cursor is hidden and shown here, on `stream`: log-update would do it
  // on process.stderr and hook process signals to restore it.
  const draw = createLogUpdate(stream as unknown as NodeJS.WritableStream, { showCursor: true });
  return new LiveView(draw, stream, options);
}

type Draw = ((...text: string[]) => void) & {
  clear(): void;
  done(): void;
  persist(...text: string[]): void;
};

class LiveView implements LiveReporter {
  #draw: Draw;
  #stream: LiveStream;
  #c: Palette;
  #refreshMs: number;
  #total = 0;
  #t0 = performance.now();
  #running = new Map<
    string,
    { kind: "io" | "cpu"; since: number; done?: number; total?: number }
  >();
  #workers: (string | undefined)[] = [];
  #counts = { ok: 0, cached: 0, failed: 0, skipped: 0, cancelled: 0 };
  #above: string[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #started = false;
  #closed = false;
  #tick = 0;
  #onUnload = () => this.#stream.write(CURSOR_SHOW);

  constructor(draw: Draw, stream: LiveStream, options: LiveReporterOptions) {
    this.#draw = draw;
    this.#stream = stream;
    this.#c = palette(options.color ?? true);
    this.#refreshMs = options.refreshMs ?? 100;
  }

  runStart(plan: RunPlan): void {
    this.#total = plan.tasks.length;
    this.#workers = Array.from({ length: plan.workers }, () => undefined);
    this.#t0 = performance.now();
    this.#started = true;
    this.#stream.write(CURSOR_HIDE);
    // Deno.exit (a second Ctrl-C) skips runEnd; the cursor must come back anyway.
    globalThis.addEventListener("unload", this.#onUnload);
    const timer = setInterval(() => this.#refresh(), this.#refreshMs);
    // The run keeps the process alive, not the view.
    Deno.unrefTimer(timer);
    this.#timer = timer;
    this.#refresh();
  }

  taskStart(event: TaskStartEvent): void {
    this.#running.set(event.name, { kind: event.kind, since: performance.now() });
    if (event.worker !== undefined) this.#workers[event.worker] = event.name;
  }

  taskOutput(event: TaskOutputEvent): void {
    this.#above.push(`${this.#c.dim(`${event.name} |`)} ${safeLine(event.text)}`);
  }

  taskProgress(event: TaskProgressEvent): void {
    const running = this.#running.get(event.name);
    if (running !== undefined) {
      running.done = event.done;
      running.total = event.total;
    }
    if (event.worker !== undefined) this.#workers[event.worker] = event.name;
  }

  taskRetry(event: TaskRetryEvent): void {
    // The next attempt may run on another worker; none holds the task while it waits.
    this.#release(event.name);
    const c = this.#c;
    this.#above.push(
      `${c.yellow("↻")} ${event.name} ${
        c.dim(`attempt ${event.attempt} of ${event.maxAttempts} in ${formatMs(event.delayMs)}`)
      }: ${safeLine(event.error.message)}`,
    );
  }

  taskEnd(task: TaskReport): void {
    this.#running.delete(task.name);
    this.#counts[task.status]++;
    this.#release(task.name);
    this.#above.push(endLine(task, this.#c));
  }

  #release(name: string): void {
    for (let i = 0; i < this.#workers.length; i++) {
      if (this.#workers[i] === name) this.#workers[i] = undefined;
    }
  }

  runEnd(report: RunReport): void {
    this.close();
    this.#stream.write(summaryBlock(report, this.#c).join("\n") + "\n");
  }

  write(text: string): void {
    if (!this.#started || this.#closed) {
      this.#stream.write(text);
      return;
    }
    this.#above.push(...text.replace(/\n$/, "").split("\n"));
    this.#refresh();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (!this.#started) return;
    this.#flush();
    this.#draw.clear();
    this.#draw.done();
    this.#stream.write(CURSOR_SHOW);
    globalThis.removeEventListener("unload", this.#onUnload);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #flush(): void {
    if (this.#above.length === 0) return;
    this.#draw.persist(this.#above.join("\n"));
    this.#above = [];
  }

  #refresh(): void {
    if (this.#closed) return;
    this.#flush();
    const now = performance.now();
    const state: FrameState = {
      elapsedMs: now - this.#t0,
      total: this.#total,
      counts: this.#counts,
      running: [...this.#running].map(([name, task]) => ({
        name,
        kind: task.kind,
        elapsedMs: now - task.since,
        done: task.done,
        total: task.total,
      })),
      workers: this.#workers,
    };
    const size = terminalSize(this.#stream);
    this.#draw(frameLines(state, size, this.#c, this.#tick++).join("\n"));
  }
}

function endLine(task: TaskReport, c: Palette): string {
  const where = c.dim(`(${lane(task)})`);
  switch (task.status) {
    case "ok":
      return `${c.green("✓")} ${task.name} ${where} ${formatMs(task.durationMs)}`;
    case "cached":
      return `${c.dim("✓")} ${task.name} ${where} ${c.dim("cached")}`;
    case "failed":
      return `${c.red("✗")} ${task.name} ${where} ${formatMs(task.durationMs)}: ${
        c.red(safeLine(task.error?.message ?? "failed"))
      }`;
    case "cancelled":
      return `${c.yellow("■")} ${task.name} ${where} ${formatMs(task.durationMs)}: ${
        safeLine(task.reason ?? "cancelled")
      }`;
    default:
      return `${c.yellow("-")} ${task.name}: ${safeLine(task.reason ?? "skipped")}`;
  }
}

/**
 * The lines of one frame: a header with elapsed time and counts, the
 * running io tasks, and each worker's task, fitted to the terminal: when
 * they do not fit, the oldest io tasks and the busy workers are shown and
 * the rest counted.
 *
 * @param state What to show.
 * @param size The terminal's columns and rows.
 * @param c Colours.
 * @param tick A frame counter, for the spinner.
 * @returns The lines, at most `rows - 1` of them.
 */
export function frameLines(
  state: FrameState,
  size: { columns: number; rows: number },
  c: Palette = palette(false),
  tick = 0,
): string[] {
  const { counts } = state;
  const ended = counts.ok + (counts.cached ?? 0) + counts.failed + counts.skipped +
    counts.cancelled;
  const pending = Math.max(0, state.total - ended - state.running.length);
  const parts = [
    `${state.running.length} running`,
    `${counts.ok + (counts.cached ?? 0)} done`,
    counts.failed > 0 ? c.red(`${counts.failed} failed`) : "0 failed",
    `${pending} pending`,
  ];
  if (counts.skipped + counts.cancelled > 0) {
    parts.push(c.yellow(`${counts.skipped + counts.cancelled} skipped`));
  }
  const header = `${c.bold(SPINNER[tick % SPINNER.length])} spool ${
    formatMs(state.elapsedMs).padStart(7)
  }  ${parts.join(c.dim(" · "))}`;

  // The frame takes at most rows - 1 lines: the cursor sits on the line after it.
  const budget = Math.max(2, size.rows - 2);
  const longest = Math.max(0, ...state.running.map((task) => task.name.length));
  const nameWidth = Math.max(8, Math.min(longest, 48, size.columns - 40));
  const byName = new Map(state.running.map((task) => [task.name, task]));
  // A cpu task on no single worker (a sharded one) is listed with the io tasks.
  const onWorkers = new Set(state.workers);
  const io = state.running.filter((task) => task.kind === "io" || !onWorkers.has(task.name));
  const workerRows: string[] = [];
  const busy: string[] = [];
  let idle = 0;
  state.workers.forEach((name, index) => {
    const label = `worker ${index}`.padEnd(9);
    if (name === undefined) {
      idle++;
      workerRows.push(`  ${c.dim(label)} ${c.dim("idle")}`);
      return;
    }
    const row = `  ${label} ${taskCell(byName.get(name), name, nameWidth, c)}`;
    workerRows.push(row);
    busy.push(row);
  });
  const workerQuota = io.length > 0 ? Math.ceil(budget / 2) : budget;
  let workerLines = workerRows;
  if (workerRows.length > workerQuota) {
    const shown = busy.slice(0, Math.max(0, workerQuota - 1));
    workerLines = [
      ...shown,
      c.dim(
        `  ${state.workers.length} workers: ${busy.length} busy${
          busy.length > shown.length ? ` (${busy.length - shown.length} not shown)` : ""
        }, ${idle} idle`,
      ),
    ];
  }
  const ioQuota = Math.max(1, budget - workerLines.length);
  let ioLines = io.map((task) =>
    `  ${task.kind.padEnd(9)} ${taskCell(task, task.name, nameWidth, c)}`
  );
  if (ioLines.length > ioQuota) {
    ioLines = [
      ...ioLines.slice(0, ioQuota - 1),
      c.dim(`  ${"".padEnd(9)} ... and ${io.length - (ioQuota - 1)} more`),
    ];
  }
  return [header, ...ioLines, ...workerLines];
}

function taskCell(task: RunningTask | undefined, name: string, width: number, c: Palette): string {
  const shown = name.length > width ? `${name.slice(0, width - 1)}…` : name.padEnd(width);
  if (task === undefined) return shown;
  let cell = `${shown} ${formatMs(task.elapsedMs).padStart(7)}`;
  if (task.done !== undefined && task.total !== undefined && task.total > 0) {
    const filled = Math.round(Math.min(1, task.done / task.total) * 10);
    cell += `  ${c.green("█".repeat(filled))}${
      c.dim("░".repeat(10 - filled))
    } ${task.done}/${task.total}`;
  }
  return cell;
}

/** Below these, a reported size is a terminal that does not know its own: use the defaults. */
const MIN_COLUMNS = 20;
const MIN_ROWS = 3;

/**
 * A terminal size that can be drawn on: 80 columns when the terminal reports
 * fewer than 20 (some report 0, and log-update would then wrap after every
 * character), 24 rows when it reports fewer than 3, and these defaults when
 * it reports nothing or not a number.
 *
 * @param size The size the terminal reports.
 * @returns Whole columns and rows to draw within.
 */
export function terminalSize(
  size: { columns?: number; rows?: number },
): { columns: number; rows: number } {
  const sane = (value: number | undefined, min: number, fallback: number) =>
    typeof value === "number" && Number.isFinite(value) && value >= min
      ? Math.floor(value)
      : fallback;
  return { columns: sane(size.columns, MIN_COLUMNS, 80), rows: sane(size.rows, MIN_ROWS, 24) };
}

/** `stream` with its size made sane on every read, for log-update and the frame. */
function sized(stream: LiveStream): LiveStream {
  return {
    // log-update wraps each frame in synchronized-output codes for a terminal.
    isTTY: (stream as { isTTY?: boolean }).isTTY,
    write: (text: string) => stream.write(text),
    get columns() {
      return terminalSize(stream).columns;
    },
    get rows() {
      return terminalSize(stream).rows;
    },
  } as LiveStream;
}

function stderrStream(): LiveStream & { isTTY: true } {
  const encoder = new TextEncoder();
  const size = () => {
    try {
      return Deno.consoleSize();
    } catch {
      return { columns: 80, rows: 24 };
    }
  };
  return {
    // log-update wraps each frame in synchronized-output codes for a terminal.
    isTTY: true,
    write(text: string) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
    },
    get columns() {
      return size().columns;
    },
    get rows() {
      return size().rows;
    },
  };
}
