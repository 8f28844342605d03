/**
 * Memory: the resident size of a process holding a pool of 2 and of 8
 * workers, spool's (in-process workers, the task file on the light entry)
 * against Piscina's with as many threads, and what one more worker costs
 * against an empty Deno worker. Every sample is a fresh process
 * (bench/_memory_child.ts, bench/peers/piscina_memory.mjs); each repetition
 * takes every sample once, in an order that rotates between repetitions.
 *
 * @module
 */

import { median } from "./_stats.ts";
import { type Ratio, ratio } from "./_turns.ts";

/** Who is measured: spool on the light entry, spool on mod.ts, empty workers, Piscina. */
export type MemoryContender = "spool" | "spool-mod" | "empty" | "Piscina";

/** Resident sizes in MiB, by contender and pool size, one per repetition. */
export type MemorySamples = Record<MemoryContender, Record<number, number[]>>;

/** Pool sizes measured; the per-worker figure is the slope between them. */
export const MEMORY_SIZES = [2, 8] as const;

const decoder = new TextDecoder();

async function sample(who: MemoryContender, workers: number, piscina?: string): Promise<number> {
  const [command, args] = who === "Piscina"
    ? [
      "node",
      [new URL("./peers/piscina_memory.mjs", import.meta.url).pathname, piscina!, `${workers}`],
    ]
    : [
      Deno.execPath(),
      [
        "run",
        "-A",
        new URL("./_memory_child.ts", import.meta.url).pathname,
        who,
        `${workers}`,
      ],
    ];
  const out = await new Deno.Command(command, { args, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(`${who} with ${workers} workers failed: ${decoder.decode(out.stderr)}`);
  }
  return JSON.parse(decoder.decode(out.stdout)).rssMib;
}

/**
 * Takes the memory samples.
 *
 * @param options Repetitions; the folder Piscina was installed into, if any.
 * @returns The samples.
 */
export async function memorySamples(
  options: { repeat: number; piscina?: string; log?: (line: string) => void },
): Promise<MemorySamples> {
  const who: MemoryContender[] = ["spool", "spool-mod", "empty"];
  if (options.piscina !== undefined) who.push("Piscina");
  const samples = Object.fromEntries(
    who.map((w) => [w, Object.fromEntries(MEMORY_SIZES.map((n) => [n, [] as number[]]))]),
  ) as MemorySamples;
  for (let r = 0; r < options.repeat; r++) {
    const order = who.map((_, i) => who[(i + r) % who.length]);
    options.log?.(`memory, repetition ${r + 1} of ${options.repeat}: ${order.join(", ")}`);
    for (const workers of MEMORY_SIZES) {
      for (const w of order) samples[w][workers].push(await sample(w, workers, options.piscina));
    }
  }
  return samples;
}

/** One row of the memory table. */
export interface MemoryRow {
  figure: string;
  spool: string;
  baseline: string;
  ratio: string;
  target: string;
  met?: boolean;
}

const mib = (n: number) => `${n.toFixed(1)} MiB`;
const spread = (r: Ratio) => `${r.median.toFixed(2)}x [${r.min.toFixed(2)}–${r.max.toFixed(2)}]`;

/** One more worker's resident size, per repetition: the slope from 2 to 8 workers. */
function perWorker(samples: MemorySamples, who: MemoryContender): number[] {
  const [low, high] = MEMORY_SIZES;
  return samples[who][high].map((h, r) => (h - samples[who][low][r]) / (high - low));
}

/**
 * The table's rows: RSS at each pool size against Piscina, and memory per
 * worker against an empty Deno worker (target: 8.5 MiB where an empty worker
 * takes 7.2, that is at most 1.18x the empty worker measured in the same run).
 *
 * @param samples From {@linkcode memorySamples}.
 * @returns The rows.
 */
export function memoryRows(samples: MemorySamples): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const workers of MEMORY_SIZES) {
    const ours = samples.spool[workers];
    const theirs = samples.Piscina?.[workers];
    const r = theirs && ratio(ours, theirs);
    rows.push({
      figure: `RSS of the process with ${workers} warm workers`,
      spool: `${mib(median(ours))} (on mod.ts ${mib(median(samples["spool-mod"][workers]))})`,
      baseline: theirs ? `Piscina ${mib(median(theirs))}` : "—",
      ratio: r ? `${spread(r)} Piscina` : "—",
      target: "≤ 1.00x Piscina",
      met: r && r.median <= 1,
    });
  }
  const ours = perWorker(samples, "spool");
  const empty = perWorker(samples, "empty");
  const r = ratio(ours, empty);
  const limit = 8.5 / 7.2;
  rows.push({
    figure: `memory per worker (RSS at ${MEMORY_SIZES[1]} − at ${MEMORY_SIZES[0]}, per worker)`,
    spool: `${mib(median(ours))} (on mod.ts ${mib(median(perWorker(samples, "spool-mod")))})`,
    baseline: `empty Deno worker ${mib(median(empty))}` +
      (samples.Piscina ? `, Piscina thread ${mib(median(perWorker(samples, "Piscina")))}` : ""),
    ratio: `${spread(r)} the empty worker`,
    target: `≤ ${limit.toFixed(2)}x the empty worker (8.5 / 7.2 MiB)`,
    met: r.median <= limit,
  });
  return rows;
}

/**
 * The rows as a Markdown table.
 *
 * @param rows From {@linkcode memoryRows} or the start-up rows.
 * @returns The table.
 */
export function formatRows(rows: MemoryRow[]): string {
  const header: MemoryRow = {
    figure: "figure",
    spool: "spool",
    baseline: "baseline",
    ratio: "ratio, per repetition: median [range]",
    target: "target",
  };
  const cells = (row: MemoryRow) => [
    row.figure,
    row.spool,
    row.baseline,
    row.ratio,
    row.target,
    row === header ? "met" : row.met === undefined ? "—" : row.met ? "yes" : "NO",
  ];
  const table = [header, ...rows].map(cells);
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(table[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`]
    .concat(table.slice(1).map(line)).join("\n");
}
