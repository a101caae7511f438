import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { WorkerControlService, type WorkerCommandName } from '../services/worker-control.service';
import { CLOCK, type Clock } from '../tokens';
import type { QueueDto, WorkerCommandResultDto, WorkerDto } from '@swarmflow/contracts/api.types';
import { Audit } from '../auth/audit';
import { RequiresRole } from './auth/requires-role.decorator';
import { toWorkerDto } from './presenters';
import { WorkerNamePipe } from './request.dto';

/** One worker's detail and the operator's commands to it (what Flower offers), and the task queues. */
@Controller()
export class WorkersController {
  constructor(
    @Inject(WorkerControlService) private readonly control: WorkerControlService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('workers/:name')
  @RequiresRole('viewer')
  async get(@Param('name', WorkerNamePipe) name: string): Promise<WorkerDto> {
    return toWorkerDto(await this.control.get(name), this.clock());
  }

  /** Stop taking tasks, finish the running ones, stay up. */
  @Post('workers/:name/drain')
  @HttpCode(202)
  @RequiresRole('operator')
  @Audit('worker.drain')
  drain(@Param('name', WorkerNamePipe) name: string): Promise<WorkerCommandResultDto> {
    return this.send(name, 'drain');
  }

  /** Drain, then exit. */
  @Post('workers/:name/shutdown')
  @HttpCode(202)
  @RequiresRole('operator')
  @Audit('worker.shutdown')
  shutdown(@Param('name', WorkerNamePipe) name: string): Promise<WorkerCommandResultDto> {
    return this.send(name, 'shutdown');
  }

  /** Take tasks again after a drain. */
  @Post('workers/:name/resume')
  @HttpCode(202)
  @RequiresRole('operator')
  @Audit('worker.resume')
  resume(@Param('name', WorkerNamePipe) name: string): Promise<WorkerCommandResultDto> {
    return this.send(name, 'resume');
  }

  @Get('queues')
  @RequiresRole('viewer')
  queues(): Promise<QueueDto[]> {
    return this.control.queues();
  }

  private async send(name: string, command: WorkerCommandName): Promise<WorkerCommandResultDto> {
    const { worker, message } = await this.control.command(name, command);
    return { worker: worker.name, command, state: worker.state, message };
  }
}
