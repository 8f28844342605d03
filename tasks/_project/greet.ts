/** The small project that tasks/commands.ts builds, tests and smoke-tests. */
export function greet(name: string): string {
  return `hello, ${name}`;
}
