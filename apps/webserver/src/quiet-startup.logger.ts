import { ConsoleLogger, Logger, type LoggerService, type LogLevel } from '@nestjs/common';

/** Nest's own startup chatter: a line per module, controller and route (about 40 at each start). */
const STARTUP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

const isStartupLine = (rest: unknown[]): boolean => {
  const context = rest.at(-1);
  return typeof context === 'string' && STARTUP_CONTEXTS.has(context);
};

/**
 * The logger to hand Nest for a webserver logging through `logger`: Nest's startup lines
 * (module loaded, route mapped, application started) go to debug, so that at the default
 * level a start logs one line per component of ours. Nest makes it the process's logger.
 */
export function quietStartupLogger(logger: LoggerService): LoggerService {
  // A Nest Logger writes through the process's logger: wrapping it would loop.
  return logger instanceof Logger ? new QuietConsoleLogger() : new QuietStartupLogger(logger);
}

/** Nest's console logger, with the startup lines at debug and the levels `Logger.overrideLogger` set. */
class QuietConsoleLogger extends ConsoleLogger {
  override log(message: unknown, ...rest: unknown[]): void {
    if (isStartupLine(rest)) super.debug(message, ...rest);
    else super.log(message, ...rest);
  }

  // Levels set with Logger.overrideLogger(levels) (SWARMFLOW_LOG_LEVEL) before this logger existed;
  // none set (no level enabled, not even fatal): Nest's defaults.
  override isLevelEnabled(level: LogLevel): boolean {
    return Logger.isLevelEnabled('fatal') ? Logger.isLevelEnabled(level) : super.isLevelEnabled(level);
  }
}

/** Passes messages on to another logger, with the startup lines at debug. */
class QuietStartupLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...rest: unknown[]): void {
    if (isStartupLine(rest)) this.inner.debug?.(message, ...rest);
    else this.inner.log(message, ...rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.inner.error(message, ...rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.inner.warn(message, ...rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.inner.debug?.(message, ...rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.inner.verbose?.(message, ...rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...rest);
  }
}
