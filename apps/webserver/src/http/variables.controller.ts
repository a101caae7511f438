import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Res } from '@nestjs/common';
import { VariablesService, type VariableView } from '../services/variables.service';
import type { VariableDto, VariablesExportDto, VariablesImportResultDto } from '@swarmflow/contracts/api.types';
import { importEntries, ImportVariablesBody, PutVariableBody, VariableKeyPipe } from './request.dto';
import { ZodValidationPipe } from './zod-validation.pipe';
import { Audit } from '../auth/audit';
import { RequiresRole } from './auth/requires-role.decorator';

function toVariableDto(v: VariableView): VariableDto {
  return { key: v.key, value: v.value, secret: v.secret, description: v.description, updatedAt: v.updatedAt.toISOString() };
}

/** Variables: global key/value pairs; secret values are masked (`***`) in every answer. */
@Controller('variables')
@RequiresRole('admin')
export class VariablesController {
  constructor(@Inject(VariablesService) private readonly variables: VariablesService) {}

  @Get()
  async list(): Promise<VariableDto[]> {
    return (await this.variables.list()).map(toVariableDto);
  }

  // Declared before `:key`: Nest matches routes in declaration order ("export" is a reserved key).
  @Get('export')
  async export(): Promise<VariablesExportDto> {
    const { variables, secretsOmitted } = await this.variables.export();
    return {
      variables: Object.fromEntries(variables.map((v) => [v.key, { value: v.value, secret: v.secret, description: v.description }])),
      secrets_omitted: secretsOmitted,
    };
  }

  @Post('import')
  @Audit('variable.import')
  @HttpCode(200)
  import(@Body(new ZodValidationPipe(ImportVariablesBody)) body: ImportVariablesBody): Promise<VariablesImportResultDto> {
    return this.variables.import(importEntries(body), body.secrets_omitted);
  }

  @Get(':key')
  async get(@Param('key', VariableKeyPipe) key: string): Promise<VariableDto> {
    return toVariableDto(await this.variables.get(key));
  }

  /** 201 when the variable is new, 200 when it replaced one. */
  @Put(':key')
  @Audit('variable.set')
  async put(
    @Param('key', VariableKeyPipe) key: string,
    @Body(new ZodValidationPipe(PutVariableBody)) body: PutVariableBody,
    @Res({ passthrough: true }) res: { status(code: number): unknown },
  ): Promise<VariableDto> {
    const { variable, created } = await this.variables.set({ key, ...body });
    res.status(created ? 201 : 200);
    return toVariableDto(variable);
  }

  @Delete(':key')
  @Audit('variable.delete')
  @HttpCode(204)
  async delete(@Param('key', VariableKeyPipe) key: string): Promise<void> {
    await this.variables.delete(key);
  }
}
