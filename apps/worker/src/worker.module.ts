import { Module, type DynamicModule } from '@nestjs/common';
import type { Broker } from '@swarmflow/messaging';
import { WorkerService, type WorkerDeps, type WorkerOptions } from './worker.service';

/** Injection token of the worker's {@link WorkerOptions}. */
export const WORKER_OPTIONS = Symbol('WORKER_OPTIONS');
/** Injection token of the {@link Broker} the worker uses. */
export const WORKER_BROKER = Symbol('WORKER_BROKER');
/** Injection token of optional {@link WorkerDeps}. */
export const WORKER_DEPS = Symbol('WORKER_DEPS');

/**
 * Provides {@link WorkerService} for a Nest application (standalone mode). Wiring only:
 * the owner calls `start()` and `drain()`.
 */
@Module({})
export class WorkerModule {
  static forRoot(options: WorkerOptions, broker: Broker, deps: WorkerDeps = {}): DynamicModule {
    return {
      module: WorkerModule,
      providers: [
        { provide: WORKER_OPTIONS, useValue: options },
        { provide: WORKER_BROKER, useValue: broker },
        { provide: WORKER_DEPS, useValue: deps },
        {
          provide: WorkerService,
          useFactory: (o: WorkerOptions, b: Broker, d: WorkerDeps) => new WorkerService(b, o, d),
          inject: [WORKER_OPTIONS, WORKER_BROKER, WORKER_DEPS],
        },
      ],
      exports: [WorkerService],
    };
  }
}
