/**
 * The peers: Piscina on Node (installed from npm into a temporary folder for
 * this run only) and Python's ProcessPoolExecutor, each run as a subprocess
 * that prints its figures as JSON.
 *
 * @module
 */

/** What both peers are told. */
export interface PeerConfig {
  /** Pool size, the same as spool's. */
  workers: number;
  /** How many long tasks. */
  tasks: number;
  /** Loop length of the bigint workload. */
  bigN: number;
  /** Target time of one Number task on the peer's own thread, in ms. */
  numberMs: number;
  /** Tiny items for the throughput figure. */
  items: number;
  /** Round trips timed for the latency figure. */
  roundTrips: number;
  /** Repetitions of each timed figure (the median is kept). */
  repeat: number;
}

/** Serial and parallel time of one long-task workload. */
export interface LongFigures {
  /** Every task one after another on one thread, in ms. */
  serialMs: number;
  /** The tasks on a fresh pool, its start included, in ms. */
  parallelMs: number;
  /** The tasks on a pool already started and warmed by one run, in ms. */
  warmMs: number;
}

/** What the Node + Piscina peer reports. */
export interface PiscinaFigures {
  node: string;
  big: LongFigures;
  number: LongFigures & { n: number };
  tiny: { perItemMs: number; batchedMs: number };
  roundTrip: { p50Us: number; p99Us: number };
}

/** What the Python peer reports. */
export interface PythonFigures {
  python: string;
  big: LongFigures;
  number: LongFigures & { n: number };
}

const decoder = new TextDecoder();

async function output(command: string, args: string[], cwd?: string): Promise<string> {
  const result = await new Deno.Command(command, { args, cwd, stdin: "null" }).output();
  if (!result.success) {
    throw new Error(
      `${command} ${args[0]} failed with exit code ${result.code}: ${
        decoder.decode(result.stderr).trim()
      }`,
    );
  }
  return decoder.decode(result.stdout);
}

/**
 * Installs Piscina into a new temporary folder, removed on dispose.
 *
 * @returns The folder holding `node_modules/piscina`.
 */
export async function installPiscina(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "spool-bench-" });
  await output("npm", [
    "install",
    "--prefix",
    path,
    "--no-audit",
    "--no-fund",
    "--silent",
    "piscina@5",
  ]);
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/**
 * Runs the Piscina peer.
 *
 * @param dir The folder Piscina was installed into.
 * @param config The sizes.
 * @returns Its figures.
 */
export async function runPiscina(dir: string, config: PeerConfig): Promise<PiscinaFigures> {
  const script = new URL("./peers/piscina_bench.mjs", import.meta.url).pathname;
  return JSON.parse(await output("node", [script, dir, JSON.stringify(config)]));
}

/**
 * Runs the Python peer.
 *
 * @param config The sizes.
 * @returns Its figures.
 */
export async function runPython(config: PeerConfig): Promise<PythonFigures> {
  const script = new URL("./peers/python_pool.py", import.meta.url).pathname;
  return JSON.parse(await output("python3", [script, JSON.stringify(config)]));
}
