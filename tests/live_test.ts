import assert from "node:assert/strict";
import { buildReport, type TaskReport } from "../lib/report/report.ts";
import { frameLines, type FrameState, liveReporter, terminalSize } from "../lib/report/live.ts";
import { fixture, ROOT } from "./_helpers.ts";

function state(overrides: Partial<FrameState> = {}): FrameState {
  return {
    elapsedMs: 1500,
    total: 10,
    counts: { ok: 0, failed: 0, skipped: 0, cancelled: 0 },
    running: [],
    workers: [],
    ...overrides,
  };
}

Deno.test("the live frame shows counts, running io tasks with their time, and each worker", () => {
  const lines = frameLines(
    state({
      counts: { ok: 3, failed: 1, skipped: 0, cancelled: 0 },
      running: [
        { name: "fetch:a", kind: "io", elapsedMs: 1200 },
        { name: "crunch", kind: "cpu", elapsedMs: 300, done: 3, total: 6 },
      ],
      workers: ["crunch", undefined],
    }),
    { columns: 100, rows: 30 },
  );
  assert.match(lines[0], /spool +1\.50 s +2 running · 3 done · 1 failed · 4 pending$/);
  assert.match(lines[1], /^ {2}io +fetch:a +1\.20 s$/);
  assert.match(lines[2], /^ {2}worker 0 +crunch +300 ms +█████░░░░░ 3\/6$/);
  assert.match(lines[3], /^ {2}worker 1 +idle$/);
  assert.equal(lines.length, 4);
});

Deno.test("the live frame fits the terminal with dozens of running tasks", () => {
  const running = [
    ...Array.from({ length: 60 }, (_, i) => ({
      name: `download:${i}`,
      kind: "io" as const,
      elapsedMs: 100,
    })),
    ...Array.from(
      { length: 5 },
      (_, i) => ({ name: `sum:${i}`, kind: "cpu" as const, elapsedMs: 50 }),
    ),
  ];
  const workers = Array.from({ length: 16 }, (_, i) => i < 5 ? `sum:${i}` : undefined);
  const lines = frameLines(state({ total: 100, running, workers }), { columns: 80, rows: 20 });
  assert.ok(lines.length <= 19, `${lines.length} lines:\n${lines.join("\n")}`);
  assert.match(lines[0], /65 running · 0 done · 0 failed · 35 pending/);
  assert.ok(lines.some((line) => /^ +\.\.\. and \d+ more$/.test(line)), lines.join("\n"));
  assert.ok(lines.some((line) => /16 workers: 5 busy.*, 11 idle$/.test(line)), lines.join("\n"));
  assert.ok(lines.some((line) => /download:0 /.test(line)), "the oldest io task is shown");
});

Deno.test("the live frame lists a sharded cpu task with its progress until a worker reports it", () => {
  const running = [{ name: "squares", kind: "cpu" as const, elapsedMs: 900, done: 40, total: 100 }];
  const before = frameLines(state({ running, workers: [undefined, undefined] }), {
    columns: 100,
    rows: 30,
  });
  assert.match(before[1], /^ {2}cpu +squares +900 ms +████░░░░░░ 40\/100$/);
  const after = frameLines(state({ running, workers: ["squares", "squares"] }), {
    columns: 100,
    rows: 30,
  });
  assert.deepEqual(after.slice(1).map((line) => line.trim().split(/ {2,}/)[0]), [
    "worker 0",
    "worker 1",
  ]);
});

/** A terminal that records what is written to it. */
function fakeTerminal() {
  let text = "";
  return {
    columns: 80,
    rows: 24,
    write(chunk: string) {
      text += chunk;
    },
    get text() {
      return text;
    },
  };
}

Deno.test("liveReporter draws above-the-view lines and ends with the summary and the cursor back", async () => {
  const terminal = fakeTerminal();
  const live = await liveReporter({ stream: terminal, color: false, refreshMs: 60_000 });
  const fetch: TaskReport = {
    name: "fetch",
    kind: "io",
    status: "ok",
    startMs: 0,
    endMs: 10,
    durationMs: 10,
  };
  live.runStart?.({
    tasks: [{ name: "fetch", kind: "io", deps: [], permissions: {}, step: 1 }],
    workers: 0,
    concurrency: 64,
  });
  live.taskStart?.({ name: "fetch", kind: "io", startMs: 0 });
  live.taskOutput?.({ name: "fetch", stream: "stdout", text: "downloading" });
  live.write("a message from the CLI\n");
  live.taskEnd?.(fetch);
  live.runEnd?.(buildReport([fetch], { wallMs: 12, workers: 0, concurrency: 64 }));
  live.close(); // Idempotent: runEnd has closed it.

  const text = terminal.text;
  assert.ok(text.startsWith("\x1b[?25l"), "the cursor is hidden while drawing");
  assert.match(text, /fetch \| downloading/);
  assert.match(text, /a message from the CLI/);
  assert.match(text, /✓ fetch \(io\) 10 ms/);
  const shown = text.lastIndexOf("\x1b[?25h");
  assert.ok(shown > text.lastIndexOf("\x1b[?25l"), "the cursor is shown again");
  assert.ok(
    text.slice(shown).endsWith(
      "1 task: 1 ok in 12 ms wall, 10 ms of task time, speedup 0.83x (idle 17% of the wall: wind-down)\n",
    ),
    "the summary comes after the view is gone",
  );
  assert.doesNotMatch(text.slice(shown), /running ·/, "no frame after the summary");
});

Deno.test("terminalSize treats a terminal reporting under 20 columns or no size as 80 x 24", () => {
  assert.deepEqual(terminalSize({ columns: 0, rows: 0 }), { columns: 80, rows: 24 });
  assert.deepEqual(terminalSize({ columns: NaN, rows: Infinity }), { columns: 80, rows: 24 });
  assert.deepEqual(terminalSize({}), { columns: 80, rows: 24 });
  assert.deepEqual(terminalSize({ columns: 19, rows: 2 }), { columns: 80, rows: 24 });
  assert.deepEqual(terminalSize({ columns: 20, rows: 3 }), { columns: 20, rows: 3 });
  assert.deepEqual(terminalSize({ columns: 132.5, rows: 50 }), { columns: 132, rows: 50 });
});

Deno.test("liveReporter on a terminal that reports 0 columns draws whole lines, not a character per line", async () => {
  const terminal = { ...fakeTerminal(), columns: 0, rows: 0 };
  let text = "";
  terminal.write = (chunk: string) => void (text += chunk);
  const live = await liveReporter({ stream: terminal, color: false, refreshMs: 60_000 });
  live.runStart?.({
    tasks: [{ name: "fetch", kind: "io", deps: [], permissions: {}, step: 1 }],
    workers: 0,
    concurrency: 64,
  });
  live.taskStart?.({ name: "fetch", kind: "io", startMs: 0 });
  live.taskOutput?.({ name: "fetch", stream: "stdout", text: "downloading three files" });
  live.write("a message from the CLI\n");
  assert.match(text, /fetch \| downloading three files/);
  assert.match(text, /spool +\d+ ms {2}1 running/, "the header on one line");
  assert.match(text, /^ {2}io +fetch +\d+ ms$/m, "the running task on one line");
  live.close();
});

function tmuxAvailable(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

const TMUX = tmuxAvailable();

Deno.test({
  name: "spool in a terminal draws the live view and leaves only the summary when done",
  ignore: !TMUX,
  async fn() {
    // A server of our own, so that the test never touches the user's tmux.
    const socket = `spool-live-test-${Deno.pid}`;
    const tmux = async (...args: string[]) => {
      const { stdout, success, stderr } = await new Deno.Command("tmux", {
        args: ["-L", socket, ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decoder = new TextDecoder();
      assert.ok(success, `tmux ${args.join(" ")}: ${decoder.decode(stderr)}`);
      return decoder.decode(stdout);
    };
    const command = [
      "env -u CI -u NO_COLOR TERM=xterm-256color SPOOL_FIXTURE_MS=2000",
      `'${Deno.execPath()}' run --no-prompt -A cli.ts run -f '${
        fixture("overlap.ts")
      }' -w 2 --no-cache`,
      "; echo SPOOL_EXIT=$?; sleep 60",
    ].join(" ");
    await tmux("new-session", "-d", "-s", "live", "-x", "100", "-y", "40", "-c", ROOT, command);
    try {
      const screen = () => tmux("capture-pane", "-p", "-t", "live");
      const until = async (what: string, test: (text: string) => boolean) => {
        const deadline = Date.now() + 30_000;
        let text = "";
        while (Date.now() < deadline) {
          text = await screen();
          if (test(text)) return text;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.fail(`Timed out waiting for ${what}; the screen was:\n${text}`);
      };
      const during = await until(
        "the view with both workers busy",
        (text) => /^ {2}worker 0 +spin:\d/m.test(text) && /^ {2}worker 1 +spin:\d/m.test(text),
      );
      assert.match(
        during,
        /^\S spool +[\d.]+ m?s +\d+ running · \d+ done · 0 failed · \d+ pending/m,
      );
      // io tasks may start after the workers do: their sandbox starts first.
      await until(
        "running io tasks with their time",
        (text) => /^ {2}io +wait:\d +[\d.]+ m?s$/m.test(text),
      );

      const after = await until("the end of the run", (text) => /SPOOL_EXIT=\d+/.test(text));
      assert.match(after, /SPOOL_EXIT=0/);
      assert.match(after, /^7 tasks: 7 ok in [\d.]+ m?s wall, .* of task time, .*$/m);
      assert.match(after, /^Critical path: /m);
      assert.match(after, /^✓ join \(io\)/m, "finished tasks stay above");
      assert.doesNotMatch(after, /running ·/, "no frame is left");
      assert.doesNotMatch(after, /^ {2}worker \d/m, "no worker line is left");
      const cursor = await tmux("display-message", "-p", "-t", "live", "#{cursor_flag}");
      assert.equal(cursor.trim(), "1", "the cursor is visible again");
    } finally {
      await tmux("kill-server").catch(() => {});
    }
  },
});

if (!TMUX) {
  console.warn(
    "live_test.ts: tmux is not installed, so the terminal test is skipped (apt-get install -y tmux)",
  );
}
