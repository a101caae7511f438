import { DynamicModule, Module } from '@nestjs/common';
import { HEARTBEAT_VIEW, HeartbeatsHandler } from './handlers/heartbeats.handler';
import type { HeartbeatView } from './services/heartbeat-view';

/** The autoscaler's broker consumers; wiring only. */
@Module({})
export class AutoscalerModule {
  static forRoot(view: HeartbeatView): DynamicModule {
    return { module: AutoscalerModule, controllers: [HeartbeatsHandler], providers: [{ provide: HEARTBEAT_VIEW, useValue: view }] };
  }
}
