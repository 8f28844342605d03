/**
 * Checks of the messages a run reads from NATS. Any peer that may publish on
 * the server's `spool.>` subjects can send a run an event or an outcome: a
 * message whose fields are not what the protocol says is dropped, as one
 * that does not decode is, instead of throwing in the NATS client's reader
 * (which closed the connection and left the run waiting for ever).
 *
 * @module
 */

import type { Event, Outcome, Place } from "./_messages.ts";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Whether a value is a {@linkcode Place}. */
export function isPlace(value: unknown): value is Place {
  return isRecord(value) && typeof value.machine === "string" &&
    typeof value.pid === "number" && typeof value.slot === "number";
}

/** Whether a value is an {@linkcode Event}. */
export function isEvent(value: unknown): value is Event {
  if (!isRecord(value) || typeof value.job !== "number") return false;
  if (value.type === "start") return isPlace(value.place);
  return value.type === "output" && (value.stream === "stdout" || value.stream === "stderr") &&
    typeof value.text === "string";
}

/** Whether a value is an {@linkcode Outcome}: its error is checked where it is rebuilt. */
export function isOutcome(value: unknown): value is Outcome {
  if (!isRecord(value) || typeof value.job !== "number" || !isPlace(value.place)) return false;
  if (value.ok === true) return typeof value.ms === "number";
  return value.ok === false && isRecord(value.error);
}
