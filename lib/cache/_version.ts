/**
 * spool's version, part of every fingerprint: a code constant, not an import
 * of deno.json, since a sandbox may read code files only (a test holds the
 * two equal).
 *
 * @module
 */

/** The version in deno.json. */
export const SPOOL_VERSION = "0.1.0";
