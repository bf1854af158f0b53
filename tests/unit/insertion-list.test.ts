import { describe, expect, it } from 'vitest';
import { createInsertionList, type ListNode } from '../../src/util/insertion-list.js';

interface Node extends ListNode<Node> {
  n: number;
}
const node = (n: number): Node => ({ n, prev: undefined, next: undefined });

describe('insertion list', () => {
  it('keeps entries oldest first through removals at the front, the middle and the end', () => {
    const list = createInsertionList<Node>();
    expect(list.first).toBeUndefined();
    const nodes = [0, 1, 2, 3, 4].map(node);
    for (const item of nodes) list.append(item);
    const order = () => {
      const seen: number[] = [];
      for (let at = list.first; at; at = at.next) seen.push(at.n);
      return seen;
    };
    expect(order()).toEqual([0, 1, 2, 3, 4]);
    list.remove(nodes[2]!);
    list.remove(nodes[0]!);
    list.remove(nodes[4]!);
    expect(order()).toEqual([1, 3]);
    expect([nodes[2]!.prev, nodes[2]!.next]).toEqual([undefined, undefined]);
    list.append(nodes[0]!);
    expect(order()).toEqual([1, 3, 0]);
    list.remove(nodes[1]!);
    list.remove(nodes[3]!);
    list.remove(nodes[0]!);
    expect(list.first).toBeUndefined();
    list.append(nodes[4]!);
    expect(order()).toEqual([4]);
    list.clear();
    expect([list.first, list.size]).toEqual([undefined, 0]);
  });

  it('counts its entries, and makes room by sweeping expired ones from the oldest end, then the oldest at the cap', () => {
    const list = createInsertionList<Node>();
    const nodes = [0, 1, 2, 3, 4].map(node);
    for (const item of nodes) list.append(item);
    expect(list.size).toBe(5);
    const dropped: number[] = [];
    const drop = (item: Node) => {
      dropped.push(item.n);
      list.remove(item);
    };
    // Nodes 0-2 are over: at most two are swept; below the cap nothing more goes.
    list.makeRoom(10, 2, (item) => item.n < 3, drop);
    expect([dropped, list.size]).toEqual([[0, 1], 3]);
    // The sweep stops at the first entry not over; at the cap the oldest goes.
    list.makeRoom(3, 2, (item) => item.n === 3, drop);
    expect([dropped, list.size, list.first?.n]).toEqual([[0, 1, 2], 2, 3]);
  });
});
