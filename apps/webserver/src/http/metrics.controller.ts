import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { checkMetricsAccess, processMetrics, type MetricsAccess } from '@swarmflow/observability';
import type { Response } from 'express';
import { METRICS_ACCESS } from '../tokens';
import { Public } from './auth/requires-role.decorator';

/**
 * `GET /metrics` (outside `/api/v1`): this process's Prometheus metrics. It needs no user:
 * Prometheus scrapes without one. Its own rule applies instead ({@link MetricsAccess}):
 * the bearer token of SWARMFLOW_METRICS_TOKEN when set, else open on loopback or with
 * SWARMFLOW_METRICS_PUBLIC=true, else closed with a message naming both fixes.
 */
@Public()
@ApiExcludeController() // Prometheus' text format, not part of the REST API's document
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_ACCESS) private readonly access: MetricsAccess) {}

  @Get()
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() res: Response): Promise<void> {
    const decision = checkMetricsAccess(this.access, authorization);
    if (!decision.ok) {
      res.status(decision.status).type('text/plain').send(`${decision.message}\n`);
      return;
    }
    const { contentType, body } = await processMetrics().exposition();
    // end(), not send(): send() would add its own charset to prom-client's content type.
    res.status(200).setHeader('content-type', contentType);
    res.end(body);
  }
}
