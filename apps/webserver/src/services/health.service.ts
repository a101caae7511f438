import { Inject, Injectable } from '@nestjs/common';
import type { Broker } from '@swarmflow/messaging';
import { databaseUnavailableCause, type Repositories } from '@swarmflow/persistence';
import type { DependencyHealthDto, HealthDto } from '@swarmflow/contracts/api.types';
import { BROKER, REPOSITORIES } from '../tokens';

/**
 * The API's dependencies, checked when asked: the database by a trivial query (with a time
 * limit, so a silent network answers `down` rather than hanging the probe), the broker by
 * its last connection status (it reconnects on its own and says so). The messages name the
 * cause only (refused, timed out), never an address or a credential: health answers anyone.
 */
@Injectable()
export class HealthService {
  private brokerProblem: string | null = null;

  constructor(
    @Inject(REPOSITORIES) private readonly repos: Repositories,
    @Inject(BROKER) private readonly broker: Broker | null,
  ) {
    // The broker was started (connected) before the API was built: up until it says otherwise.
    broker?.onStatus((status) => {
      this.brokerProblem = status === 'connected' ? null : 'the broker connection is lost; reconnecting';
    });
  }

  async check(): Promise<HealthDto> {
    const database = await this.database();
    const broker: DependencyHealthDto = !this.broker ? { status: 'not_configured' }
      : this.brokerProblem ? { status: 'down', message: this.brokerProblem } : { status: 'up' };
    const down = database.status === 'down' || broker.status === 'down';
    return { status: down ? 'unavailable' : 'ok', dependencies: { database, broker } };
  }

  private async database(): Promise<DependencyHealthDto> {
    try {
      await this.repos.db.ping();
      return { status: 'up' };
    } catch (err) {
      const cause = databaseUnavailableCause(err);
      return { status: 'down', message: `cannot query the database (${cause ?? 'error'})` };
    }
  }
}
