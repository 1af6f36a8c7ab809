// Fault injection for the links of one node: tests and chaos experiments cut the link to named members, and the
// transport refuses to dial them, refuses their connections, and drops the connections already open. A cut is
// one-sided; cut both ends for a symmetric partition.

export class LinkFaults {
  private readonly cut = new Set<string>();
  private readonly listeners = new Set<(names: string[]) => void>();

  /** Cuts this node's links to the named members. */
  cutLinksTo(...names: string[]): void {
    for (const n of names) this.cut.add(n);
    for (const l of this.listeners) l(names);
  }

  /** Restores this node's links to the named members (all members when none are named). */
  heal(...names: string[]): void {
    if (names.length === 0) this.cut.clear();
    for (const n of names) this.cut.delete(n);
  }

  isCut(name: string | undefined): boolean {
    return name !== undefined && this.cut.has(name);
  }

  /** The transport listens here to close connections that were open when a link was cut. */
  onCut(listener: (names: string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
