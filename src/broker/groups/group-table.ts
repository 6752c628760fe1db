// The groups the coordinator holds, and the count of committed offsets across them: the two maps keyed
// by client input that `sluice.groups.max` and `sluice.group.offsets.max` bound (limits.ts).
//
// A group leaves the table (→ Dead) when it is deleted, or when it is Empty with neither members nor
// offsets (it holds nothing worth keeping); a group whose metadata record is in `__consumer_offsets`
// gets its tombstone then. Every change of a committed offset goes through setOffset/forgetOffset, so
// the count stays the sum over the groups.
import type { Clock, Logger } from '../services.js';
import { Group } from './group.js';
import type { GroupSettings } from './limits.js';
import type { CommittedOffset } from './offsets-records.js';
import type { OffsetsStore } from './offsets-store.js';

export class GroupTable {
  private readonly groups = new Map<string, Group>();
  private offsetTotal = 0;

  constructor(
    private readonly store: OffsetsStore,
    private readonly settings: GroupSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  get(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  /** The group now registered under `group.groupId` is this one (it was not removed, or replaced, meanwhile). */
  holds(group: Group): boolean {
    return this.groups.get(group.groupId) === group;
  }

  values(): IterableIterator<Group> {
    return this.groups.values();
  }

  get size(): number {
    return this.groups.size;
  }

  /** Committed offsets across every group. */
  get offsetCount(): number {
    return this.offsetTotal;
  }

  /** Room for one more group: evicts Empty groups without offsets first (they hold nothing worth keeping). */
  canAdd(): boolean {
    if (this.groups.size < this.settings.groupsMax) return true;
    for (const group of [...this.groups.values()])
      if (group.is('Empty') && group.offsets.size === 0) this.remove(group);
    if (this.groups.size < this.settings.groupsMax) return true;
    this.logger.warn(
      { component: 'groups', groups: this.groups.size, limit: this.settings.groupsMax },
      'sluice.groups.max reached: new group refused',
    );
    return false;
  }

  /** A new Empty group (the caller checked canAdd). */
  add(groupId: string): Group {
    const group = new Group(groupId, this.clock.now());
    this.groups.set(groupId, group);
    return group;
  }

  /** A group rebuilt from `__consumer_offsets`, offsets included. */
  restore(group: Group): void {
    this.groups.set(group.groupId, group);
    this.offsetTotal += group.offsetCount;
  }

  /** Drops a group (→ Dead); writes the tombstone of its metadata when it had stored any. */
  remove(group: Group): void {
    group.transitionTo('Dead', this.clock.now());
    group.clearJoinTimer();
    group.clearSyncTimer();
    this.groups.delete(group.groupId);
    this.offsetTotal -= group.offsetCount;
    if (group.stored) {
      group.stored = false;
      this.store.writeTombstones(group.groupId, [], this.clock.now(), true).catch((error: unknown) => {
        this.logger.error(
          { component: 'groups', groupId: group.groupId, error: String(error) },
          'group tombstone not written',
        );
      });
    }
  }

  /** Forgets a group this broker no longer coordinates (its partition moved): nothing is written, the
   *  records stay for the next coordinator. */
  drop(group: Group): void {
    if (!this.holds(group)) return;
    group.transitionTo('Dead', this.clock.now());
    this.groups.delete(group.groupId);
    this.offsetTotal -= group.offsetCount;
  }

  /** An Empty group with no offsets is of no use to anyone: remove it now rather than at the next expiry pass. */
  removeIfUnused(group: Group): void {
    if (
      group.is('Empty') &&
      group.offsets.size === 0 &&
      group.members.size === 0 &&
      group.pendingMembers.size === 0 &&
      this.holds(group)
    )
      this.remove(group);
  }

  setOffset(group: Group, topic: string, partition: number, value: CommittedOffset): void {
    let partitions = group.offsets.get(topic);
    if (!partitions) group.offsets.set(topic, (partitions = new Map()));
    if (!partitions.has(partition)) this.offsetTotal++;
    partitions.set(partition, value);
  }

  forgetOffset(group: Group, topic: string, partition: number): void {
    const partitions = group.offsets.get(topic);
    if (!partitions?.delete(partition)) return;
    this.offsetTotal--;
    if (partitions.size === 0) group.offsets.delete(topic);
  }
}
