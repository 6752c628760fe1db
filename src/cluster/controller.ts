// The controller: one broker of the cluster at a time, elected through etcd (the `controller` key,
// taken under the broker's lease when no one holds it; it goes when that lease ends). While it holds the
// key it decides (controller-decisions.ts) after every change it watches, and writes each decision in a
// transaction fenced twice: by the controller key's create revision — a controller whose lease ended
// and that does not know it yet writes nothing — and by the mod revision of each key it read, so a
// decision made on a stale state is dropped and made again from the newer one.
import type { Logger } from '../broker/logger.js';
import type { ClusterState } from './cluster-state.js';
import { decide, type ControllerSettings } from './controller-decisions.js';
import type { EtcdSession } from './etcd-session.js';

export const CONTROLLER_KEY = 'controller';
/** A safety net beside the watch: decide again this often even if nothing was seen to change. */
const RECONCILE_INTERVAL_MS = 1000;

export class Controller {
  /** The create revision of the controller key while this broker holds it. */
  private fence: string | null = null;
  private running = false;
  private again = false;
  private campaigning = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly nodeId: number,
    private readonly session: EtcdSession,
    private readonly state: ClusterState,
    private readonly settings: ControllerSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.changed(), RECONCILE_INTERVAL_MS).unref();
    this.changed();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** True while this broker holds the controller key, as its state shows. */
  get active(): boolean {
    return this.fence !== null && this.state.controller?.createRevision === this.fence && this.session.leaseFresh();
  }

  /** Called after each batch of watched changes. */
  changed(): void {
    if (this.stopped) return;
    const holder = this.state.controller;
    if (holder === null) {
      this.fence = null;
      void this.campaign();
      return;
    }
    if (holder.nodeId !== this.nodeId || (this.fence !== null && holder.createRevision !== this.fence)) {
      this.fence = null;
      return;
    }
    // This broker's key from an earlier session (a restart within the TTL) is not a mandate: the
    // session that took it is gone; wait for it to expire and campaign then.
    if (this.fence === null) return;
    void this.reconcile();
  }

  private async campaign(): Promise<void> {
    if (this.campaigning || !this.session.leaseFresh()) return;
    this.campaigning = true;
    try {
      const fence = await this.session.campaign(CONTROLLER_KEY, JSON.stringify({ nodeId: this.nodeId }));
      if (fence !== null) {
        this.fence = fence;
        this.logger.info({ nodeId: this.nodeId, fence }, 'elected controller');
      }
    } catch (error) {
      this.logger.warn({ error: String(error) }, 'controller campaign failed (etcd unreachable?)');
    } finally {
      this.campaigning = false;
    }
  }

  private async reconcile(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        if (!this.active) return;
        for (const decision of decide(this.state, this.settings)) {
          const written = await this.session.fencedWrite(CONTROLLER_KEY, this.fence!, decision.writes);
          if (written) this.logger.info({ decision: decision.why }, 'controller decision written');
          else this.again = false; // stale: the watch brings the newer state, and with it the next pass
        }
      } while (this.again);
    } catch (error) {
      this.logger.warn({ error: String(error) }, 'controller write failed (etcd unreachable?)');
    } finally {
      this.running = false;
    }
  }
}
