/**
 * Taking turns: each repetition runs every contender once per figure, in an
 * order that rotates from one repetition to the next, so that spool and its
 * peers share each noise window. Ratios are taken within a repetition and
 * reported as their median and spread.
 *
 * @module
 */

import type { Peer, PeerCommand } from "./_peers.ts";
import { median } from "./_stats.ts";

/** One figure: the command each contender runs for it, by label. */
export interface Figure {
  /** A short id, such as `"mapWarm"`. */
  id: string;
  /**
   * What each contender runs, by label (`"spool"`, `"Piscina batched"`):
   * the peer that runs it and the command.
   */
  runs: Record<string, { peer: string; command: PeerCommand }>;
}

/** Samples of one figure: for each label, one answer per repetition. */
export type Samples = Record<string, Record<string, number>[]>;

/**
 * Runs every figure `repeat` times, the contenders taking turns.
 *
 * @param peers The contenders, spool first.
 * @param figures The figures.
 * @param repeat Repetitions.
 * @param log Progress lines.
 * @returns The samples of each figure, by id.
 */
export async function takeTurns(
  peers: Peer[],
  figures: Figure[],
  repeat: number,
  log: (line: string) => void,
): Promise<Record<string, Samples>> {
  const samples: Record<string, Samples> = {};
  for (const figure of figures) {
    samples[figure.id] = Object.fromEntries(Object.keys(figure.runs).map((label) => [label, []]));
  }
  for (let r = 0; r < repeat; r++) {
    const order = peers.map((_, i) => peers[(i + r) % peers.length]);
    log(`repetition ${r + 1} of ${repeat}: ${order.map((p) => p.name).join(", ")}`);
    for (const figure of figures) {
      for (const peer of order) {
        for (const [label, { peer: name, command }] of Object.entries(figure.runs)) {
          if (name !== peer.name) continue;
          try {
            samples[figure.id][label].push(await peer.call(command));
          } catch (error) {
            // Reported in its row; the other figures still run.
            if (!samples[figure.id][label].some((s) => s.failed)) {
              log(`${figure.id} (${label}) could not run: ${(error as Error).message}`);
            }
            samples[figure.id][label].push({ failed: 1, ms: Number.NaN });
          }
        }
      }
    }
  }
  return samples;
}

/** A ratio over repetitions: its median and its range. */
export interface Ratio {
  median: number;
  min: number;
  max: number;
}

/**
 * The per-repetition ratios of two series of samples.
 *
 * @param top The numerator's samples.
 * @param bottom The denominator's samples.
 * @returns Median, min and max of `top[r] / bottom[r]`.
 */
export function ratio(top: number[], bottom: number[]): Ratio {
  const ratios = top.map((t, r) => t / bottom[r]);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/**
 * Whether any repetition of a figure failed for one of the labels.
 *
 * @param samples The figure's samples.
 * @param labels The contenders to look at; all when none given.
 * @returns `true` when one failed.
 */
export function failed(samples: Samples, ...labels: string[]): boolean {
  const which = labels.length > 0 ? labels : Object.keys(samples);
  return which.some((label) => samples[label]?.some((s) => s.failed));
}

/**
 * A field of every sample of one label.
 *
 * @param samples The figure's samples.
 * @param label The contender.
 * @param field Such as `"ms"`.
 * @returns The values, one per repetition.
 */
export function series(samples: Samples, label: string, field = "ms"): number[] {
  return samples[label].map((s) => s[field]);
}
