/** Undo actions run last-in first-out; every one runs even when an earlier one fails. */
export class CleanupStack {
  private readonly actions: (() => Promise<unknown> | void)[] = [];

  add(action: () => Promise<unknown> | void): void {
    this.actions.push(action);
  }

  /** Runs and forgets every action; throws one error listing the failures, if any. */
  async run(): Promise<void> {
    const failures: string[] = [];
    for (const action of this.actions.splice(0).reverse()) {
      try {
        await action();
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) throw new Error(`cleanup failed:\n${failures.join('\n')}`);
  }
}
