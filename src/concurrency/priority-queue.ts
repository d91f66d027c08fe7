/**
 * Waiters by priority class, index 0 the highest: one intrusive doubly linked FIFO per class. A
 * waiter that leaves early (client gone, timed out) is unlinked in O(1) through the handle `push`
 * returned, so an abort storm never scans the queue.
 */

/** A queued value; pass it back to `remove`. */
export interface QueueEntry<T> {
  readonly value: T;
  readonly classIndex: number;
}

class Node<T> implements QueueEntry<T> {
  readonly value: T;
  readonly classIndex: number;
  prev: Node<T> | undefined = undefined;
  next: Node<T> | undefined = undefined;
  linked = true;

  constructor(value: T, classIndex: number) {
    this.value = value;
    this.classIndex = classIndex;
  }
}

export class PriorityQueue<T> {
  private readonly heads: (Node<T> | undefined)[];
  private readonly tails: (Node<T> | undefined)[];
  private readonly counts: number[];
  private total = 0;

  constructor(classCount: number) {
    if (!Number.isInteger(classCount) || classCount < 1) {
      throw new RangeError(`a priority queue needs at least one class, got ${classCount}`);
    }
    this.heads = new Array<Node<T> | undefined>(classCount).fill(undefined);
    this.tails = new Array<Node<T> | undefined>(classCount).fill(undefined);
    this.counts = new Array<number>(classCount).fill(0);
  }

  get size(): number {
    return this.total;
  }

  get classCount(): number {
    return this.counts.length;
  }

  sizeOf(classIndex: number): number {
    return this.counts[classIndex] ?? 0;
  }

  push(classIndex: number, value: T): QueueEntry<T> {
    if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= this.counts.length) {
      throw new RangeError(`class index ${classIndex} is outside 0..${this.counts.length - 1}`);
    }
    const node = new Node(value, classIndex);
    const tail = this.tails[classIndex];
    if (tail === undefined) this.heads[classIndex] = node;
    else {
      tail.next = node;
      node.prev = tail;
    }
    this.tails[classIndex] = node;
    this.counts[classIndex] = (this.counts[classIndex] ?? 0) + 1;
    this.total++;
    return node;
  }

  /** False when the entry already left, so callers racing (abort vs grant vs timeout) can tell who won. */
  remove(entry: QueueEntry<T>): boolean {
    const node = entry as Node<T>;
    if (!node.linked) return false;
    const index = node.classIndex;
    if (node.prev === undefined) this.heads[index] = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tails[index] = node.prev;
    else node.next.prev = node.prev;
    node.prev = undefined;
    node.next = undefined;
    node.linked = false;
    this.counts[index] = (this.counts[index] ?? 1) - 1;
    this.total--;
    return true;
  }

  /** The oldest entry of one class. */
  oldest(classIndex: number): QueueEntry<T> | undefined {
    return this.heads[classIndex];
  }

  /** Takes the oldest entry of the highest non-empty class. */
  shift(): T | undefined {
    for (const head of this.heads) {
      if (head !== undefined) {
        this.remove(head);
        return head.value;
      }
    }
    return undefined;
  }

  /**
   * Takes the newest entry of the lowest non-empty class ranked strictly below `classIndex`: the one
   * to give up when a more important waiter meets a full queue. The newest, because the oldest has
   * already invested the most waiting and is closest to a slot.
   */
  popNewestBelow(classIndex: number): T | undefined {
    for (let index = this.tails.length - 1; index > classIndex; index--) {
      const tail = this.tails[index];
      if (tail !== undefined) {
        this.remove(tail);
        return tail.value;
      }
    }
    return undefined;
  }

  /** Empties the queue, returning every value class by class, oldest first within a class. */
  clear(): T[] {
    const values: T[] = [];
    for (let index = 0; index < this.heads.length; index++) {
      for (let node = this.heads[index]; node !== undefined; ) {
        const next = node.next;
        this.remove(node);
        values.push(node.value);
        node = next;
      }
    }
    return values;
  }
}
