import t from 'tap';
import { PriorityQueue } from '../../src/concurrency/priority-queue.ts';

function drain(queue: PriorityQueue<string>): string[] {
  const out: string[] = [];
  for (let value = queue.shift(); value !== undefined; value = queue.shift()) out.push(value);
  return out;
}

t.test('shift takes the highest class first, FIFO within a class', async (t) => {
  const queue = new PriorityQueue<string>(3);
  for (const [index, value] of [
    [2, 'c1'],
    [1, 'b1'],
    [0, 'a1'],
    [2, 'c2'],
    [0, 'a2'],
    [1, 'b2'],
  ] as const) {
    queue.push(index, value);
  }
  t.equal(queue.size, 6);
  t.same([queue.sizeOf(0), queue.sizeOf(1), queue.sizeOf(2)], [2, 2, 2]);
  t.same(drain(queue), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
  t.equal(queue.size, 0);
  t.equal(queue.shift(), undefined);
});

t.test('remove unlinks from head, middle and tail, and reports a second removal', async (t) => {
  const queue = new PriorityQueue<string>(1);
  const entries = ['a', 'b', 'c', 'd', 'e'].map((value) => queue.push(0, value));
  t.ok(queue.remove(entries[2]!));
  t.ok(queue.remove(entries[0]!));
  t.ok(queue.remove(entries[4]!));
  t.notOk(queue.remove(entries[2]!), 'already gone');
  t.equal(queue.size, 2);
  t.equal(queue.oldest(0)?.value, 'b');
  t.same(drain(queue), ['b', 'd']);
  t.notOk(queue.remove(entries[1]!), 'shifted entries are gone too');
});

t.test('popNewestBelow gives up the newest of the lowest class under the given one', async (t) => {
  const queue = new PriorityQueue<string>(3);
  queue.push(1, 'b1');
  queue.push(2, 'c1');
  queue.push(2, 'c2');
  queue.push(0, 'a1');
  t.equal(queue.popNewestBelow(0), 'c2');
  t.equal(queue.popNewestBelow(0), 'c1');
  t.equal(queue.popNewestBelow(1), undefined, 'nothing ranked below class 1 is left');
  t.equal(queue.popNewestBelow(0), 'b1');
  t.equal(queue.popNewestBelow(0), undefined, 'never its own class or above');
  t.same(drain(queue), ['a1']);
});

t.test('clear empties class by class, oldest first', async (t) => {
  const queue = new PriorityQueue<string>(2);
  queue.push(1, 'b1');
  const a1 = queue.push(0, 'a1');
  queue.push(1, 'b2');
  t.same(queue.clear(), ['a1', 'b1', 'b2']);
  t.equal(queue.size, 0);
  t.notOk(queue.remove(a1));
});

t.test('bad class counts and indexes are refused', async (t) => {
  t.throws(() => new PriorityQueue<string>(0), RangeError);
  const queue = new PriorityQueue<string>(2);
  t.throws(() => queue.push(2, 'x'), RangeError);
  t.throws(() => queue.push(-1, 'x'), RangeError);
  t.equal(queue.size, 0);
});
