export * from './container-executor';
export * from './container-options';
export * from './container-policy';
export { DockerClient, DockerError, toDockerError, type ContainerSummary, type RegistryAuth, type LogSource } from './docker-client';
export { LogDemuxer } from './log-demuxer';
export { ustar, type TarEntry } from './ustar';
export { holdBinary } from './hold-binary';
