/**
 * `deno task bench`: spool's benchmarks with its peers side by side, in one
 * run on one machine, printed as one table of ratios (and, with `--json
 * <path>`, written as JSON).
 *
 *     deno task bench            # the full suite, a few minutes on 2 cores
 *     deno task bench --quick    # small sizes, one repetition: a smoke run
 *     deno task bench --json bench.json --no-peers
 *
 * Peers: Piscina on Node (installed from npm into a temporary folder for the
 * run) and Python's `concurrent.futures.ProcessPoolExecutor`, with the same
 * worker count. Timing needs a quiet machine: on a shared one the ratios
 * move by several per cent.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_CONCURRENCY } from "../mod.ts";
import { longTasks, tinyItems } from "./_cpu.ts";
import { concurrentWaits, limiter, planGraph } from "./_io.ts";
import {
  installPiscina,
  type PeerConfig,
  type PiscinaFigures,
  type PythonFigures,
  runPiscina,
  runPython,
} from "./_peers.ts";
import { echoRoundTrip, handOff, poolStart, spoolRoundTrip } from "./_pool.ts";
import { LONG_TASKS } from "./_tasks.ts";
import { calibrateNumber } from "./_work.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    workers: { type: "string" },
    "no-peers": { type: "boolean", default: false },
  },
});

const workers = flags.workers === undefined ? navigator.hardwareConcurrency : Number(flags.workers);
if (!Number.isInteger(workers) || workers < 1) {
  throw new RangeError(
    `Cannot run the benchmarks as 'workers' must be a positive integer: current value is ${flags.workers}`,
  );
}
const quick = flags.quick;
const sizes = quick
  ? {
    repeat: 1,
    bigN: 1_000_000,
    numberMs: 30,
    items: 20_000,
    roundTrips: 1_000,
    ioTasks: 10_000,
    waits: 1_000,
    graph: 10_000,
  }
  : {
    repeat: 3,
    bigN: 10_000_000,
    numberMs: 300,
    items: 200_000,
    roundTrips: 5_000,
    ioTasks: 100_000,
    waits: 10_000,
    graph: 10_000,
  };

const log = (line: string) => console.error(line);
log(`spool bench${quick ? " --quick" : ""}: ${workers} workers, Deno ${Deno.version.deno}`);

// Peers first, then spool, so that each side's timed runs are back to back.
const peerConfig: PeerConfig = {
  workers,
  tasks: LONG_TASKS,
  bigN: sizes.bigN,
  numberMs: sizes.numberMs,
  items: sizes.items,
  roundTrips: sizes.roundTrips,
  repeat: sizes.repeat,
};
let piscina: PiscinaFigures | undefined;
let python: PythonFigures | undefined;
if (!flags["no-peers"]) {
  log("installing piscina from npm into a temporary folder...");
  await using dir = await installPiscina();
  log("running Piscina on Node...");
  piscina = await runPiscina(dir.path, peerConfig);
  log("running Python ProcessPoolExecutor...");
  python = await runPython(peerConfig);
}

log("running spool: long cpu tasks...");
const big = await longTasks("big", sizes.bigN, workers, sizes.repeat);
const numberN = calibrateNumber(sizes.numberMs);
const number = await longTasks("number", numberN, workers, sizes.repeat);
log("running spool: tiny items, pool paths...");
const tinyMs = await tinyItems(sizes.items, workers, sizes.repeat + 2);
const roundTrip = await spoolRoundTrip(sizes.roundTrips);
const echo = await echoRoundTrip(sizes.roundTrips);
const startMs = await poolStart(workers, sizes.repeat + 2);
const hand = await handOff(sizes.repeat + 2);
log("running spool: io lane, planning...");
const lim = await limiter(sizes.ioTasks, DEFAULT_CONCURRENCY, sizes.repeat + 2);
const waitMs = await concurrentWaits(sizes.waits, 100, sizes.repeat);
const planMs = planGraph(sizes.graph, sizes.repeat + 2);

// ---- the table ----

interface Row {
  figure: string;
  spool: string;
  peers: string;
  ratio: string;
  target: string;
  met?: boolean;
}
const rows: Row[] = [];
const x = (n: number) => `${n.toFixed(2)}x`;
const ms = (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(0)} ms`;
const us = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} µs`;
const rate = (items: number, time: number) => {
  const perSecond = items / (time / 1000);
  return perSecond >= 1e6
    ? `${(perSecond / 1e6).toFixed(2)}M/s`
    : `${(perSecond / 1e3).toFixed(0)}k/s`;
};

// Eight tasks on `workers` workers take ceil(8 / workers) rounds at best.
const ideal = LONG_TASKS / Math.ceil(LONG_TASKS / workers);
const workloads = [
  [
    `${LONG_TASKS} × exact sum i*i, i < ${sizes.bigN.toExponential(0)} (bigint)`,
    big,
    "big",
    sizes.bigN,
  ],
  [`${LONG_TASKS} × Number sum i*i, ~${sizes.numberMs} ms each`, number, "number", numberN],
] as const;
for (const [label, ours, theirs, ourN] of workloads) {
  for (const pool of ["fresh", "warm"] as const) {
    const time = (f: { parallelMs: number; warmMs: number }) =>
      pool === "fresh" ? f.parallelMs : f.warmMs;
    const speedup = ours.serialMs / time(ours);
    const p = piscina?.[theirs];
    const y = python?.[theirs];
    const peerSpeedups = [p, y].filter((f) => f !== undefined).map((f) => f.serialMs / time(f));
    rows.push({
      figure: `${label}: speedup over serial, ${
        pool === "fresh" ? "fresh pool (its start included)" : "warm pool"
      }`,
      spool: `${x(speedup)} (${ms(ours.serialMs)} → ${ms(time(ours))}, n=${ourN})`,
      peers: [
        p && `Piscina ${x(p.serialMs / time(p))}`,
        y && `Python ${x(y.serialMs / time(y))}`,
      ].filter(Boolean).join(", ") || "—",
      ratio: `efficiency ${(speedup / ideal).toFixed(2)}`,
      target: `≥ ${x(0.95 * ideal)} and ≥ peers`,
      met: speedup >= 0.95 * ideal && peerSpeedups.every((s) => speedup >= s),
    });
  }
}

const perItemMs = piscina?.tiny.perItemMs;
rows.push({
  figure: `${sizes.items.toLocaleString("en")} tiny items (x*2+1): throughput`,
  spool: `${rate(sizes.items, tinyMs)} (sharded map)`,
  peers: piscina
    ? `Piscina ${rate(sizes.items, piscina.tiny.perItemMs)} per item, ${
      rate(sizes.items, piscina.tiny.batchedMs)
    } batched`
    : "—",
  ratio: perItemMs === undefined ? "—" : `${x(perItemMs / tinyMs)} Piscina per item`,
  target: "≥ 1M/s and ≥ 20x Piscina per item",
  met: sizes.items / (tinyMs / 1000) >= 1e6 &&
    (perItemMs === undefined || perItemMs / tinyMs >= 20),
});
rows.push({
  figure: "round trip of a tiny cpu task to a warm worker, p50 / p99",
  spool: `${us(roundTrip.p50Us)} / ${us(roundTrip.p99Us)}`,
  peers: [
    `bare Deno postMessage echo ${us(echo.p50Us)} / ${us(echo.p99Us)}`,
    piscina && `Piscina ${us(piscina.roundTrip.p50Us)} / ${us(piscina.roundTrip.p99Us)}`,
  ].filter(Boolean).join(", "),
  ratio: `${x(roundTrip.p50Us / echo.p50Us)} the echo`,
  target: "p50 ≤ 30 µs",
  met: roundTrip.p50Us <= 30,
});
rows.push({
  figure: `io limiter: cost per trivial task beyond Promise.all (${
    sizes.ioTasks.toLocaleString("en")
  } tasks, concurrency ${DEFAULT_CONCURRENCY})`,
  spool: us(lim.spoolUs - lim.bareUs),
  peers: `p-limit ${us(lim.pLimitUs - lim.bareUs)} (bare Promise.all ${us(lim.bareUs)})`,
  ratio: `${x((lim.spoolUs - lim.bareUs) / (lim.pLimitUs - lim.bareUs))} p-limit`,
  target: "≤ 1.5 µs and ≤ p-limit",
  met: lim.spoolUs - lim.bareUs <= 1.5 && lim.spoolUs <= lim.pLimitUs,
});
rows.push({
  figure: `${sizes.waits.toLocaleString("en")} io tasks waiting 100 ms, concurrency ${
    sizes.waits.toLocaleString("en")
  }: wall`,
  spool: ms(waitMs),
  peers: "—",
  ratio: `${x(waitMs / 100)} one wait`,
  target: "—",
});
rows.push({
  figure: `plan a ${sizes.graph.toLocaleString("en")}-task graph (validate, order)`,
  spool: `${ms(planMs)} (${us((planMs * 1000) / sizes.graph)} per task)`,
  peers: "—",
  ratio: "—",
  target: "< 100 ms",
  met: planMs < 100,
});
rows.push({
  figure: "64 MiB to a cpu task: main-thread time",
  spool: `${ms(hand.transferMs)} transfer(), ${ms(hand.sharedMs)} SharedArrayBuffer`,
  peers: `unmarked copy ${ms(hand.copyMs)}`,
  ratio: `${x(hand.copyMs / hand.transferMs)} faster than a copy`,
  target: "< 5 ms",
  met: hand.transferMs < 5 && hand.sharedMs < 5,
});
rows.push({
  figure: "64 MiB back from a cpu task: round trip",
  spool: `${ms(hand.backTransferMs)} transfer()`,
  peers: `unmarked copy ${ms(hand.backCopyMs)}`,
  ratio: `${x(hand.backCopyMs / hand.backTransferMs)} faster than a copy`,
  target: "—",
});
rows.push({
  figure: `pool start: ${workers} workers loaded and a first task done`,
  spool: ms(startMs),
  peers: "—",
  ratio: "—",
  target: "—",
});

const header: Row = {
  figure: "figure",
  spool: "spool",
  peers: "peers",
  ratio: "ratio",
  target: "target",
};
const columns = ["figure", "spool", "peers", "ratio", "target"] as const;
const cells = (row: Row) => [
  ...columns.map((c) => row[c]),
  row === header ? "met" : row.met === undefined ? "—" : row.met ? "yes" : "NO",
];
const table = [header, ...rows].map(cells);
const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(
  [
    line(table[0]),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...table.slice(1).map(line),
  ].join("\n"),
);
console.log(
  `\n${workers} workers; Deno ${Deno.version.deno}${piscina ? `, Node ${piscina.node}` : ""}${
    python ? `, Python ${python.python}` : ""
  }; ${quick ? "--quick sizes, one repetition" : `medians of ${sizes.repeat}+ runs`}`,
);

if (flags.json !== undefined) {
  const figures = {
    workers,
    quick,
    deno: Deno.version.deno,
    sizes,
    spool: {
      big,
      number: { n: numberN, ...number },
      tinyMs,
      roundTrip,
      echoRoundTrip: echo,
      poolStartMs: startMs,
      handOff: hand,
      limiter: lim,
      waitMs,
      planMs,
    },
    piscina,
    python,
    rows,
  };
  await Deno.writeTextFile(flags.json, JSON.stringify(figures, null, 2) + "\n");
  log(`figures written to ${flags.json}`);
}
