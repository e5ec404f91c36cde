// The one way an error becomes a line for a person: its message, without a stack.
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
