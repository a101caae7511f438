export * from './process/process-executor';
export { LineSplitter, MAX_LINE_LENGTH, type LineMask } from './process/line-splitter';
export * from './docker';
export * from './artifacts/artifact-store';
